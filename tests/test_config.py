"""Settings: read from an environment once; a malformed value names its variable; secrets stay out of repr."""
import pytest

from tts.config import Settings


def test_defaults_and_values_from_the_environment(tmp_path):
    s = Settings.from_env({"CACHE_DIR": str(tmp_path), "TTS_ENGINE": " CSM ", "DEVICE": "cuda:1",
                           "CSM_COMPILE": "true", "HIBARI_THREADS": "2", "ALLOW_PRIVATE_URLS": "1",
                           "HF_TOKEN": "hf_secret", "BUCKET_ENDPOINT_URL": "https://s3.example.com",
                           "BUCKET_ACCESS_KEY_ID": "AK", "BUCKET_SECRET_ACCESS_KEY": "bucket_secret"})
    assert (s.engine, s.device, s.csm_compile, s.hibari_threads) == ("csm", "cuda:1", True, 2)
    assert s.allow_private_urls is True
    assert (s.cache_dir, s.model_id, s.max_text_chars) == (str(tmp_path), "sesame/csm-1b", 5000)
    assert (s.bucket.name, s.bucket.prefix) == ("tts-audio", "tts")
    assert "hf_secret" not in repr(s) and "bucket_secret" not in repr(s)
    assert Settings.from_env({}).bucket is None and Settings.from_env({}).csm_compile is False
    assert (Settings.from_env({}).csm_loop, Settings.from_env({}).csm_cuda_graphs) == ("loop", True)
    assert Settings.from_env({"CSM_LOOP": "Generate", "CSM_CUDA_GRAPHS": "0"}).csm_loop == "generate"


@pytest.mark.parametrize("env, message", [
    ({"MAX_TEXT_CHARS": "lots"}, "MAX_TEXT_CHARS='lots' is not a whole number (default 5000)"),
    ({"CACHE_MAX_BYTES": "-1"}, "CACHE_MAX_BYTES=-1 is below the minimum 0"),
    ({"CSM_COMPILE": "maybe"}, "CSM_COMPILE='maybe' is not a boolean; use 1 or 0 (true/false, yes/no)"),
    ({"CSM_LOOP": "fast"}, "CSM_LOOP='fast' is not one of loop, generate"),
    ({"DEVICE": "tpu"}, "DEVICE='tpu' is not a device; use auto, cpu, cuda or cuda:N"),
    ({"BUCKET_ENDPOINT_URL": "s3.example.com", "BUCKET_ACCESS_KEY_ID": "a", "BUCKET_SECRET_ACCESS_KEY": "b"},
     "BUCKET_ENDPOINT_URL='s3.example.com' is not an http(s) URL"),
])
def test_a_malformed_value_names_its_variable(env, message):
    with pytest.raises(ValueError) as err:
        Settings.from_env(env)
    assert str(err.value) == message
