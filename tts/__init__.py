"""Text-to-speech worker core: request parsing, text, audio, engines and the request service."""
