"""The doors: each translates one protocol to the core's job events (tts.events) and back, nothing more.

    queue.py     RunPod's job queue: the SDK's handler functions (one output per job, or stream items for
                 /stream), and `python handler.py`'s local test run
    queue_stream.py  a job's events as RunPod stream items (HANDLER_MODE=stream)
    http.py      WORKER_MODE=http: the FastAPI app (/ping, /health, /generate, /generate/audio, /generate/stream)
    ws.py        its WebSocket route (/ws/generate): JSON in, PCM frames out
    server.py    serving the app with uvicorn (the health port, SIGTERM, exit after an engine failure)
    backend.py   the worker's state behind the HTTP door: loading, ready, failed; the job runner
    runner.py    jobs from an event loop on job threads, in arrival order, with a bounded line
    relay.py     the one place a job's events are told apart (Door: started / audio / done / failed)
    answers.py   the one table from a failure's kind to each door's answer (HTTP status, queue output)

A door never decides what audio is made, never validates a request, never encodes: TTSService.run does, for
every door alike. To add a door: a module here with a Door subclass for its protocol, and one line where the
process starts it (handler.py for the queue, server.py for HTTP routes)."""
