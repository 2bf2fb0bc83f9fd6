"""`/v1/fine_tuning/jobs` and fine-tuned models in `/v1/models`, with the official openai
client over real HTTP and no worker: what the API itself decides (checks at creation,
scopes, isolation, lists, cancel of a queued job). Training itself is tested in
tests/training/test_fine_tuning_jobs.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from modelmint.api import create_app
from modelmint.core.ids import utcnow
from modelmint.runtime.pool import ModelPool
from modelmint.runtime.registry import Registry
from modelmint.store.database import Database
from modelmint.store.fine_tuning import FineTunedModel, add_model
from tests.business_helpers import business_settings, first_admin_key
from tests.helpers import fake_pool, running_server

EXAMPLE = {
    "messages": [
        {"role": "user", "content": "What colour is the zorbling?"},
        {"role": "assistant", "content": "The zorbling is teal."},
    ]
}
JSONL = (json.dumps(EXAMPLE) + "\n").encode() * 12


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, dict[str, str], object]]:
    """A server with auth and three orgs: acme and globex with fine_tune keys, initech
    with an inference-only key: (url, {org: key}, settings)."""
    settings = business_settings(tmp_path_factory.mktemp("ft"))
    admin_key = first_admin_key(settings)
    with running_server(create_app(settings, pool=tunable_pool())) as url:
        headers = {"Authorization": f"Bearer {admin_key}"}
        keys = {}
        with httpx.Client(base_url=url, headers=headers) as http:
            for org, scopes in (("acme", ["inference", "fine_tune"]),
                                ("globex", ["inference", "fine_tune"]),
                                ("initech", ["inference"])):  # fmt: skip
                assert http.post("/admin/orgs", json={"name": org}).status_code == 201
                made = http.post("/admin/keys", json={"org": org, "scopes": scopes})
                keys[org] = made.json()["key"]
        yield url, keys, settings


def tunable_pool() -> ModelPool:
    """The fake engines, with the chat model's entry saying llama.cpp (which can be
    fine-tuned); no job here reaches a worker, so its weights are never read."""
    pool = fake_pool()
    chat = pool.registry.specs["fake-chat"].model_copy(
        update={"engine": "llamacpp", "path": Path("/nonexistent/chat.gguf")}
    )
    specs = [chat, pool.registry.specs["fake-embed"]]
    return ModelPool(Registry(specs), pool.engines)


def client(served, org: str) -> openai.OpenAI:
    url, keys, _ = served
    return openai.OpenAI(base_url=url + "/v1", api_key=keys[org], max_retries=0)


def upload(oai: openai.OpenAI, data: bytes = JSONL, purpose: str = "fine-tune") -> str:
    return oai.files.create(file=("train.jsonl", data), purpose=purpose).id


def test_a_job_is_created_in_openai_shape_and_listed(served):
    oai = client(served, "acme")
    training = upload(oai)
    job = oai.fine_tuning.jobs.create(
        model="default",
        training_file=training,
        suffix="facts",
        seed=7,
        metadata={"team": "support"},
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}},
    )
    assert job.object == "fine_tuning.job" and job.id.startswith("ftjob-")
    assert (job.status, job.model, job.seed, job.training_file) == (
        "validating_files", "fake-chat", 7, training
    )  # fmt: skip
    assert job.hyperparameters.n_epochs == 3 and job.hyperparameters.batch_size == "auto"
    assert job.method.type == "supervised"
    assert job.method.supervised.hyperparameters.n_epochs == 3
    assert job.fine_tuned_model is None and job.result_files == [] and job.metadata == {
        "team": "support"
    }
    assert oai.fine_tuning.jobs.retrieve(job.id) == job
    assert job.id in [j.id for j in oai.fine_tuning.jobs.list()]
    events = oai.fine_tuning.jobs.list_events(job.id)
    assert [e.message for e in events.data] == [f"Created fine-tuning job: {job.id}"]
    assert events.data[0].object == "fine_tuning.job.event" and events.data[0].type == "message"
    assert oai.fine_tuning.jobs.checkpoints.list(job.id).data == []


def test_legacy_hyperparameters_are_taken_too(served):
    oai = client(served, "acme")
    job = oai.fine_tuning.jobs.create(
        model="default", training_file=upload(oai), hyperparameters={"batch_size": 4}
    )
    assert job.hyperparameters.batch_size == 4 and job.hyperparameters.n_epochs == "auto"


def test_list_pages_and_filters_by_metadata(served):
    oai = client(served, "globex")
    training = upload(oai)
    ids = [
        oai.fine_tuning.jobs.create(
            model="default", training_file=training, metadata={"n": str(i)}
        ).id
        for i in range(3)
    ]
    page = oai.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in page.data] == ids[::-1][:2] and page.has_more
    assert [j.id for j in page.get_next_page().data] == [ids[0]]
    url, keys, _ = served
    found = httpx.get(
        url + "/v1/fine_tuning/jobs",
        params={"metadata[n]": "1"},
        headers={"Authorization": f"Bearer {keys['globex']}"},
    ).json()
    assert [j["id"] for j in found["data"]] == [ids[1]]


def test_cancelling_a_queued_job_ends_it_at_once(served):
    oai = client(served, "acme")
    job = oai.fine_tuning.jobs.create(model="default", training_file=upload(oai))
    cancelled = oai.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    with pytest.raises(openai.BadRequestError, match="has cancelled already"):
        oai.fine_tuning.jobs.cancel(job.id)


@pytest.mark.parametrize(
    ("fields", "param", "words"),
    [
        ({"training_file": "file-nope"}, "training_file", "no file 'file-nope'"),
        ({"model": "no-such-model"}, "model", "does not exist"),
        ({"model": "embed"}, "model", "cannot be fine-tuned"),
        ({"suffix": "a b"}, "suffix", "suffix must be"),
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs", "from 1 to 50"),
        ({"hyperparameters": {"epochs": 2}}, "hyperparameters.epochs", "not a hyperparameter"),
        ({"method": {"type": "dpo"}}, "method.type", "not supported"),
        ({"integrations": [{"type": "wandb", "wandb": {"project": "x"}}]}, "integrations",
         "Weights & Biases"),
        ({"seed": -1}, "seed", ""),
    ],
)  # fmt: skip
def test_bad_creation_is_a_400_that_names_the_field(served, fields, param, words):
    oai = client(served, "acme")
    body = {"model": "default", "training_file": upload(oai)} | fields
    with pytest.raises(openai.BadRequestError) as caught:
        oai.fine_tuning.jobs.create(**body)
    error = caught.value.body
    assert error["param"] == param and words in error["message"]


def test_a_file_uploaded_for_another_purpose_is_refused(served):
    oai = client(served, "acme")
    other = upload(oai, purpose="assistants")
    with pytest.raises(openai.BadRequestError, match="purpose fine-tune"):
        oai.fine_tuning.jobs.create(model="default", training_file=other)


def test_a_key_without_the_fine_tune_scope_gets_403(served):
    oai = client(served, "initech")
    training = upload(oai)
    with pytest.raises(openai.PermissionDeniedError, match="fine_tune"):
        oai.fine_tuning.jobs.create(model="default", training_file=training)
    with pytest.raises(openai.PermissionDeniedError):
        oai.fine_tuning.jobs.list()


def test_another_orgs_jobs_and_files_are_404(served):
    acme, globex = client(served, "acme"), client(served, "globex")
    training = upload(acme)
    job = acme.fine_tuning.jobs.create(model="default", training_file=training)
    for call in (
        lambda: globex.fine_tuning.jobs.retrieve(job.id),
        lambda: globex.fine_tuning.jobs.cancel(job.id),
        lambda: globex.fine_tuning.jobs.list_events(job.id),
        lambda: globex.fine_tuning.jobs.checkpoints.list(job.id),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    with pytest.raises(openai.BadRequestError, match="no file"):
        globex.fine_tuning.jobs.create(model="default", training_file=training)
    assert job.id not in [j.id for j in globex.fine_tuning.jobs.list()]


def test_fine_tuned_models_are_listed_and_deleted_by_their_org_only(served, tmp_path):
    url, keys, settings = served
    acme, globex = client(served, "acme"), client(served, "globex")
    org_id = _org_id(url, keys["acme"])
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    name = "ft:fake-chat:acme:facts:0123"
    db = Database(settings.resolved_database_url())
    try:
        db.run(add_model, FineTunedModel(name, org_id, "ftjob-x", "fake-chat", str(gguf), 4,
                                         utcnow()))  # fmt: skip
    finally:
        db.close()
    mine = {m.id: m for m in acme.models.list().data}
    assert mine[name].owned_by == org_id
    assert acme.models.retrieve(name).id == name
    assert name not in [m.id for m in globex.models.list().data]
    for call in (lambda: globex.models.retrieve(name), lambda: globex.models.delete(name)):
        with pytest.raises(openai.NotFoundError):
            call()
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        globex.chat.completions.create(model=name, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.PermissionDeniedError, match="cannot be deleted"):
        acme.models.delete("default")
    deleted = acme.models.delete(name)
    assert (deleted.id, deleted.deleted) == (name, True) and not gguf.exists()
    with pytest.raises(openai.NotFoundError):
        acme.models.retrieve(name)


def _org_id(url: str, key: str) -> str:
    """The org of `key`, read off a job it creates (organization_id)."""
    oai = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
    job = oai.fine_tuning.jobs.create(model="default", training_file=upload(oai))
    oai.fine_tuning.jobs.cancel(job.id)
    return job.organization_id
