"""Model cards from user folders: schema checks, ONNX files kept in their model folder, and user
cards that cannot silently replace a shipped model or a task's default.

``model_dir`` (the fixture models) plays the shipped models here: ``Registry([shipped], user_dirs=[user])``
is what ``Registry()`` builds from the shipped folders and ``$IMGADAPT_MODEL_PATH``.
"""
import hashlib
import json
import os

import numpy as np
import pytest

import imgadapt
from imgadapt._card_schema import MAX_CARD_BYTES, MAX_RECEPTIVE_FIELD
from imgadapt.errors import ModelIntegrityError, UnknownNameError
from imgadapt._model import load_from
from imgadapt._registry import ENV_ALLOW_OVERRIDE, ENV_MODEL_PATH, Registry

from tests.runtime.conftest import conv_stack_onnx, register

MOSAIC = np.random.default_rng(0).integers(0, 256, (20, 24)).astype(np.uint8)
DEMOSAIC_INPUT = {"channels": 1, "pattern": "RGGB", "multiple": 2}


def good_card(name="demosaic/mine", **fields):
    card = {"name": name, "task": "demosaic", "onnx_sha256": "0" * 64, "input": DEMOSAIC_INPUT,
            "receptive_field": 9}
    card.update(fields)
    return card


@pytest.fixture
def user(tmp_path_factory):
    """A user model folder (outside ``model_dir``, which is ``tmp_path`` itself)."""
    return tmp_path_factory.mktemp("user")


def warnings_of(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")


# --------------------------------------------------------------------------------------------
# 4. one malformed card never breaks the other models; the warning names file, field, expected, got


BAD_CARDS = {
    "name-not-a-string": (good_card(name=5), "name: expected a name like 'demosaic/my-model'", "5 (integer)"),
    "rank-not-an-integer": (good_card(default_rank="high"), "default_rank: expected an integer", '"high" (string)'),
    "input-not-an-object": (good_card(input="x"), "input: expected a JSON object", '"x" (string)'),
    "task-an-array": (good_card(task=["demosaic"]), 'task: expected one of "demosaic", "sr", "edges"',
                      '["demosaic"] (array)'),
    "huge-receptive-field": (good_card(receptive_field=1e9), "receptive_field: expected an integer from 1 to 1024",
                             "1000000000.0 (number)"),
    "receptive-field-over-the-bound": (good_card(receptive_field=MAX_RECEPTIVE_FIELD + 1),
                                       "receptive_field: expected an integer", "1025 (integer)"),
    "boolean-scale": (good_card(name="sr/x", task="sr", scale=True, input={"channels": 3}),
                      "scale: expected an integer from 2 to 8", "true (boolean)"),
    "float-scale": (good_card(name="sr/x", task="sr", scale=2.0, input={"channels": 3}), "scale: expected an integer",
                    "2.0 (number)"),
    "sr-without-scale": (good_card(name="sr/x", task="sr", input={"channels": 3}), "scale: expected an integer",
                         "nothing (the field is missing)"),
    "name-of-another-task": (good_card(name="sr/mine"), "name: expected a name like 'demosaic/my-model'",
                             '"sr/mine" (string)'),
    "mosaic-of-three-channels": (good_card(input={"channels": 3}), "input.channels: expected one of 1", "3 (integer)"),
    "odd-multiple-for-bayer": (good_card(input={"channels": 1, "multiple": 3}),
                               "input.multiple: expected an integer from 2 to 64 and even", "3 (integer)"),
    "other-bayer-pattern": (good_card(input={"channels": 1, "pattern": "BGGR"}),
                            'input.pattern: expected one of "RGGB"', '"BGGR" (string)'),
    "missing-checksum": ({k: v for k, v in good_card().items() if k != "onnx_sha256"},
                         "onnx_sha256: expected the sha256 of the ONNX file", "nothing (the field is missing)"),
    "short-checksum": (good_card(onnx_sha256="abc"), "onnx_sha256: expected the sha256", '"abc" (string)'),
    "unknown-graph-optimisation": (good_card(runtime={"graph_optimization": "max"}),
                                   "runtime.graph_optimization: expected one of", '"max" (string)'),
    "metrics-an-array": (good_card(metrics=[1]), "metrics: expected a JSON object", "[1] (array)"),
    "reserved-key": (good_card(_dir="/etc"), "_dir: expected no keys starting with '_'", "such a key"),
    "not-an-object": ([1, 2], "expected a JSON object (a model card)", "[1, 2] (array)"),
    "null": (None, "expected a JSON object", "null (null)"),
}


@pytest.mark.parametrize("case", sorted(BAD_CARDS))
def test_a_malformed_user_card_is_skipped_and_named(model_dir, user, caplog, case):
    card, expected, got = BAD_CARDS[case]
    (user / "bad.json").write_text(json.dumps(card))
    registry = Registry([model_dir], user_dirs=[user])
    with caplog.at_level("WARNING", logger="imgadapt"):
        assert registry.list() == ["demosaic/conv", "edges/conv", "sr/conv-x2"]
        assert registry.resolve(None, task="demosaic")["name"] == "demosaic/conv"
    text = warnings_of(caplog)
    assert f"skipping model card {user / 'bad.json'}" in text
    assert expected in text and f"got {got}" in text
    out = load_from(registry, None, task="demosaic", providers=["cpu"])(MOSAIC)
    assert out.shape == MOSAIC.shape + (3,)


@pytest.mark.parametrize("content, expected", [
    (b"{not json", "expected valid JSON, got JSONDecodeError"),
    (b'{"name": "demosaic/a", "name": "demosaic/b"}', 'expected each key once in an object, got "name" twice'),
    (b"\xff\xfe{}", "expected UTF-8 text"),
    (b"[" * 100000 + b"]" * 100000, "expected valid JSON, got RecursionError"),
    (b" " * (MAX_CARD_BYTES + 1), f"expected a file of at most {MAX_CARD_BYTES} bytes"),
])
def test_unparsable_card_files_are_skipped(model_dir, user, caplog, content, expected):
    (user / "bad.json").write_bytes(content)
    with caplog.at_level("WARNING", logger="imgadapt"):
        assert Registry([model_dir], user_dirs=[user]).list("demosaic") == ["demosaic/conv"]
    assert f"{user / 'bad.json'}: {expected}" in warnings_of(caplog)


def test_unreadable_card_files_are_skipped_without_blocking(model_dir, user, caplog):
    os.mkfifo(user / "fifo.json")                       # opening it for reading would block forever
    (user / "folder.json").mkdir()
    (user / "dangling.json").symlink_to(user / "nowhere")
    if os.geteuid() != 0:  # root reads any file
        (user / "locked.json").write_text(json.dumps(good_card()))
        (user / "locked.json").chmod(0)
    with caplog.at_level("WARNING", logger="imgadapt"):
        assert Registry([model_dir], user_dirs=[user]).list("demosaic") == ["demosaic/conv"]
    text = warnings_of(caplog)
    for name in ("fifo.json", "folder.json", "dangling.json"):
        assert f"{user / name}: expected a regular file" in text
    if os.geteuid() != 0:
        assert f"{user / 'locked.json'}: expected a readable file, got PermissionError" in text


def test_every_problem_of_a_card_is_listed(model_dir, user, caplog):
    (user / "bad.json").write_text(json.dumps(good_card(default_rank="high", receptive_field=-1, kind="deep")))
    with caplog.at_level("WARNING", logger="imgadapt"):
        Registry([model_dir], user_dirs=[user]).list()
    text = warnings_of(caplog)
    assert "kind: expected one of" in text and "receptive_field: expected" in text and "default_rank: expected" in text


def test_a_skipped_card_is_named_when_its_model_is_asked_for(model_dir, user):
    (user / "mine.json").write_text(json.dumps(good_card(receptive_field=1e9)))
    with pytest.raises(UnknownNameError, match=r"'demosaic/mine' is not available: its card .*mine.json was skipped: "
                                               r"receptive_field: expected an integer from 1 to 1024"):
        Registry([model_dir], user_dirs=[user]).resolve("demosaic/mine")


def test_hidden_files_are_not_cards(model_dir, user, caplog):
    (user / "._mine.json").write_bytes(b"\x00\x05\x16\x07")   # macOS AppleDouble file
    (user / ".cache").mkdir()
    (user / ".cache" / "x.json").write_text("[]")
    with caplog.at_level("WARNING", logger="imgadapt"):
        Registry([model_dir], user_dirs=[user]).list()
    assert warnings_of(caplog) == ""


def test_the_shipped_models_survive_a_malformed_card_in_the_model_path(user, monkeypatch, caplog):
    shipped = Registry(user_dirs=[])
    if not shipped.list("demosaic"):
        pytest.skip("no shipped demosaicking model")
    for i, (card, _, _) in enumerate(BAD_CARDS.values()):
        (user / f"bad{i}.json").write_text(json.dumps(card))
    monkeypatch.setenv(ENV_MODEL_PATH, str(user))
    with caplog.at_level("WARNING", logger="imgadapt"):
        registry = Registry()
        assert registry.list() == shipped.list()
        assert registry.resolve(None, "demosaic")["name"] == shipped.resolve(None, "demosaic")["name"]
    assert warnings_of(caplog).count("skipping model card") == len(BAD_CARDS)


def test_the_shipped_cards_fit_the_schema(caplog):
    with caplog.at_level("WARNING", logger="imgadapt"):
        Registry(user_dirs=[]).list()
    assert "skipping" not in warnings_of(caplog)


# --------------------------------------------------------------------------------------------
# 5. the ONNX file lies in the card's folder; a refused file is not described


def test_card_pointing_out_of_its_folder_is_refused_without_reading_the_target(model_dir, user, tmp_path, caplog):
    outside = tmp_path / "outside.onnx"
    data = conv_stack_onnx(1, 3)
    outside.write_bytes(data)
    secret = hashlib.sha256(b"root:x:0:0").hexdigest()
    paths = ["../../../../etc/passwd", str(outside), "../outside.onnx", "sub/../../outside.onnx", "C:\\x.onnx"]
    for i, onnx in enumerate(paths):
        (user / f"evil{i}.json").write_text(json.dumps(good_card(f"demosaic/evil{i}", onnx=onnx,
                                                                 onnx_sha256=hashlib.sha256(data).hexdigest())))
    registry = Registry([model_dir], user_dirs=[user])
    with caplog.at_level("WARNING", logger="imgadapt"):
        assert registry.list("demosaic") == ["demosaic/conv"]
    for i in range(len(paths)):
        with pytest.raises(UnknownNameError, match="onnx: expected a file name ending in .onnx, in the card's own "
                                                   "folder") as err:
            load_from(registry, f"demosaic/evil{i}", providers=["cpu"])
        assert secret not in str(err.value)
    passwd = "/etc/passwd"
    if os.path.isfile(passwd):
        assert hashlib.sha256(open(passwd, "rb").read()).hexdigest() not in caplog.text


def test_link_leading_out_of_the_model_folder_is_refused(model_dir, user, tmp_path, caplog):
    data = conv_stack_onnx(1, 3)
    (tmp_path / "outside.onnx").write_bytes(data)
    (user / "demosaic").mkdir()
    (user / "demosaic" / "linked.onnx").symlink_to(tmp_path / "outside.onnx")
    (user / "demosaic" / "linked.json").write_text(json.dumps(good_card(
        "demosaic/linked", onnx_sha256=hashlib.sha256(data).hexdigest())))
    registry = Registry([model_dir], user_dirs=[user])
    with caplog.at_level("WARNING", logger="imgadapt"):
        assert "demosaic/linked" not in registry.list()
    assert "onnx: expected a file inside the model folder, got a path leading out of it" in warnings_of(caplog)


def test_a_link_inside_the_model_folder_is_fine(model_dir, user):
    data = conv_stack_onnx(1, 3)
    (user / "weights.onnx").write_bytes(data)
    (user / "linked.onnx").symlink_to(user / "weights.onnx")
    card = good_card("demosaic/linked", onnx_sha256=hashlib.sha256(data).hexdigest())
    (user / "linked.json").write_text(json.dumps(card))
    registry = Registry([model_dir], user_dirs=[user])
    assert registry.verified_bytes(registry.resolve("demosaic/linked")) == data


def test_a_file_swapped_for_a_link_after_the_scan_is_refused_alike(model_dir, user, tmp_path):
    """Whether the file a link leads to exists, and what it holds, does not show in the error."""
    register(user, "demosaic/swapped", "demosaic", conv_stack_onnx(1, 3), input=DEMOSAIC_INPUT, receptive_field=9)
    registry = Registry([model_dir], user_dirs=[user])
    card = registry.resolve("demosaic/swapped")
    onnx = user / "demosaic" / "swapped.onnx"
    secret = tmp_path / "secret.onnx"
    secret.write_bytes(b"secret")
    messages = []
    for target in (secret, tmp_path / "absent.onnx"):
        onnx.unlink()
        onnx.symlink_to(target)
        with pytest.raises(ModelIntegrityError) as err:
            registry.verified_bytes(card)
        with pytest.raises(ModelIntegrityError):
            load_from(registry, "demosaic/swapped", providers=["cpu"])
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "not name a file in the card's model folder" in messages[0]
    assert hashlib.sha256(b"secret").hexdigest() not in messages[0] and "secret" not in messages[0]


def test_wrong_checksum_names_the_expected_hash_only(registry, model_dir):
    card = registry.resolve("demosaic/conv")
    onnx = model_dir / "demosaic" / "conv.onnx"
    onnx.write_bytes(b"replaced")
    with pytest.raises(ModelIntegrityError, match="corrupt or was replaced") as err:
        registry.verified_bytes(card)
    assert card["onnx_sha256"] in str(err.value)
    assert hashlib.sha256(b"replaced").hexdigest() not in str(err.value)
    assert str(model_dir) not in str(err.value)


# --------------------------------------------------------------------------------------------
# 6. user cards never silently replace a shipped model or a task's default


@pytest.fixture
def impostor(user):
    """A user card named like the shipped ``demosaic/conv``, with other weights, ranked very high,
    and a new user model ranked high too."""
    register(user, "demosaic/conv", "demosaic", conv_stack_onnx(1, 3, seed=7), input=DEMOSAIC_INPUT,
             receptive_field=9, default_rank=1000)
    register(user, "demosaic/mine", "demosaic", conv_stack_onnx(1, 3, seed=8), input=DEMOSAIC_INPUT,
             receptive_field=9, default_rank=999)
    return user


def shipped_output(model_dir):
    return load_from(Registry([model_dir]), "demosaic/conv", providers=["cpu"], tile=0)(MOSAIC)


def test_user_card_with_a_shipped_name_is_skipped_with_a_warning(model_dir, impostor, caplog):
    registry = Registry([model_dir], user_dirs=[impostor], allow_override=False)
    with caplog.at_level("WARNING", logger="imgadapt"):
        assert registry.list("demosaic") == ["demosaic/conv", "demosaic/mine"]
    text = warnings_of(caplog)
    card = impostor / "demosaic" / "conv.json"
    assert f"skipping model card {card}: 'demosaic/conv' is the name of a shipped model" in text
    assert f"{ENV_ALLOW_OVERRIDE}=1" in text
    assert registry.resolve("demosaic/conv")["_source"] == "shipped"
    out = load_from(registry, "demosaic/conv", providers=["cpu"], tile=0)(MOSAIC)
    np.testing.assert_array_equal(out, shipped_output(model_dir))


def test_the_task_default_stays_the_shipped_one(model_dir, impostor, caplog):
    registry = Registry([model_dir], user_dirs=[impostor], allow_override=False)
    card = registry.resolve(None, "demosaic")
    assert card["name"] == "demosaic/conv" and card["_source"] == "shipped"
    out = load_from(registry, None, task="demosaic", providers=["cpu"], tile=0)(MOSAIC)
    np.testing.assert_array_equal(out, shipped_output(model_dir))
    assert registry.resolve("demosaic/mine")["name"] == "demosaic/mine"  # by name, a user model is fine


def test_user_models_alone_are_not_defaults_without_the_opt_in(tmp_path, user):
    register(user, "sr/mine-x8", "sr", conv_stack_onnx(3, 3, scale=8), input={"channels": 3}, scale=8,
             receptive_field=9, default_rank=5)
    registry = Registry([tmp_path / "empty"], user_dirs=[user], allow_override=False)
    with pytest.raises(UnknownNameError, match=rf"no shipped sr model fits.*{ENV_ALLOW_OVERRIDE}=1.*sr/mine-x8"):
        registry.resolve(None, "sr")
    assert Registry([tmp_path / "empty"], user_dirs=[user], allow_override=True).resolve(None, "sr")["name"] == \
        "sr/mine-x8"


def test_the_public_api_keeps_the_shipped_default(model_dir, impostor, monkeypatch):
    import imgadapt._model as m

    monkeypatch.setattr(m, "_registry", Registry([model_dir], user_dirs=[impostor], allow_override=False))
    monkeypatch.setattr(m, "_loaded_models", {})
    np.testing.assert_array_equal(imgadapt.demosaic(MOSAIC), shipped_output(model_dir))


def test_opting_in_replaces_the_shipped_model_and_default_with_warnings(model_dir, impostor, monkeypatch, caplog):
    monkeypatch.setenv(ENV_ALLOW_OVERRIDE, "1")
    registry = Registry([model_dir], user_dirs=[impostor])
    with caplog.at_level("WARNING", logger="imgadapt"):
        assert registry.resolve("demosaic/conv")["_dir"] == str(impostor / "demosaic")
        assert registry.resolve(None, "demosaic")["name"] == "demosaic/conv"
        assert registry.resolve(None, "demosaic")["_source"] == "user"
    text = warnings_of(caplog)
    assert f"model demosaic/conv is replaced by the user card {impostor / 'demosaic' / 'conv.json'}" in text
    assert text.count("the default demosaic model is demosaic/conv from the user card") == 1  # logged once


def test_a_copy_of_a_shipped_model_in_the_model_path_is_no_clash(model_dir, user, caplog):
    (user / "demosaic").mkdir()
    for suffix in (".json", ".onnx"):
        (user / "demosaic" / ("conv" + suffix)).write_bytes((model_dir / "demosaic" / ("conv" + suffix)).read_bytes())
    registry = Registry([model_dir], user_dirs=[user, model_dir], allow_override=False)
    with caplog.at_level("WARNING", logger="imgadapt"):
        assert registry.resolve("demosaic/conv")["_source"] == "shipped"
    assert warnings_of(caplog) == ""


def test_the_model_path_variable_is_read_with_the_opt_in(model_dir, impostor, monkeypatch):
    shipped = Registry(user_dirs=[])
    monkeypatch.setenv(ENV_MODEL_PATH, str(impostor))
    registry = Registry()
    assert registry.user_dirs == [impostor] and registry.allow_override is False
    if shipped.list("demosaic"):
        assert registry.resolve(None, "demosaic")["name"] == shipped.resolve(None, "demosaic")["name"]
    monkeypatch.setenv(ENV_ALLOW_OVERRIDE, "1")
    assert Registry().resolve(None, "demosaic")["name"] == "demosaic/conv"
