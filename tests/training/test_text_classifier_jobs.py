"""A fine-tuning job on the embeddings model makes a text classifier, end to end: the
official openai client uploads labelled chats and creates the job on a real server, a
real `modelmint worker` fits it on the real MiniLM, and `POST /v1/classify` answers with
it, billed, and for its own org only."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.training.job_helpers import client, events, ledger_rows, upload, wait_for, worker

pytestmark = pytest.mark.real_model

TEXTS = {
    "billing": [
        "I was charged twice for order {n}; please refund the second payment.",
        "My card was declined at checkout although it has money on it ({n}).",
        "Please send me an invoice for order {n} with my company's VAT number.",
        "There is a fee of {n} dollars on my statement that I never agreed to.",
        "订单{n}被重复扣款了，请把多扣的钱退给我。",
        "请帮我开一张发票，订单号是{n}。",
    ],
    "shipping": [
        "My parcel {n} has not arrived and the tracking has not moved for a week.",
        "Can you deliver order {n} to my office address instead of my home?",
        "The courier says parcel {n} was delivered, but nothing came.",
        "How long does delivery take to postcode {n}?",
        "我的包裹{n}已经一周没有物流更新了，什么时候能送到？",
        "快递显示订单{n}已签收，可是我根本没有收到。",
    ],
    "technical": [
        "The air purifier shows error code E{n} and stops after a minute.",
        "The app cannot find my thermostat on Wi-Fi after update {n}.",
        "My kettle switches itself off before the water boils (model {n}).",
        "The screen of the device flickers and then goes black, serial {n}.",
        "空气净化器显示故障代码E{n}，开机一分钟就自动停了。",
        "温控器连不上家里的无线网络，型号{n}。",
    ],
}
UNSEEN = [
    ("I paid for order 7731 but the money was taken from my account two times.", "billing"),
    ("Where is my package? Tracking number 5521 still says it is in the warehouse.", "shipping"),
    ("After the firmware update the purifier keeps showing error E42.", "technical"),
    ("我付了两次钱，订单7731，请退款。", "billing"),
    ("包裹5521还在仓库里，一直没有发货。", "shipping"),
    ("净化器升级以后一直显示故障代码E42。", "technical"),
]


def chats(rounds: range) -> list[dict]:
    return [
        {"messages": [{"role": "user", "content": text.format(n=100 + 7 * n)},
                      {"role": "assistant", "content": label}]}
        for n in rounds
        for label, texts in TEXTS.items()
        for text in texts
    ]  # fmt: skip


def classify(served: dict, body: dict, org: str = "acme") -> httpx.Response:
    headers = {"Authorization": f"Bearer {served['keys'][org]}"}
    return httpx.post(served["url"] + "/v1/classify", json=body, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def trained(served) -> dict:
    oai = client(served)
    training = upload(oai, chats(range(2)))
    validation = upload(oai, chats(range(2, 3)))
    with worker(served):
        job = oai.fine_tuning.jobs.create(
            model="minilm", training_file=training, validation_file=validation,
            suffix="tickets", seed=3,
        )  # fmt: skip
        job = wait_for(oai, job.id, ("succeeded", "failed", "cancelled"), timeout=300)
    assert job.status == "succeeded", job.error
    return {"job": job, "model": job.fine_tuned_model}


def test_the_job_reports_what_it_fit_bills_it_and_keeps_its_results(served, trained):
    oai, job = client(served), trained["job"]
    assert trained["model"] == f"ft:all-minilm-l6-v2:acme:tickets:{job.id[6:]}"
    found = events(oai, job.id)
    validated = next(e for e in found if e.message.startswith("Files validated"))
    assert validated.message == "Files validated: 36 training examples, 3 labels."
    assert validated.data["labels"] == ["billing", "shipping", "technical"]
    steps = [e.data for e in found if e.type == "metrics" and "train_loss" in e.data]
    assert steps[-1]["train_loss"] < steps[0]["train_loss"]
    evaluation = next(e.data for e in found if e.message.startswith("Evaluation:"))
    assert evaluation["measured_on"] == "validation data" and evaluation["examples"] == 18
    assert evaluation["accuracy"] >= 0.8
    csv_file, evaluation_file = job.result_files
    assert oai.files.content(csv_file).text.startswith("step,train_loss,train_accuracy")
    assert "accuracy_per_label" in oai.files.content(evaluation_file).text
    (row,) = ledger_rows(served, job.id)
    assert (row.endpoint, row.status) == ("fine_tuning", "ok")
    assert row.prompt_tokens == job.trained_tokens > 0
    listed = {m.id: m for m in oai.models.list().data}
    assert trained["model"] in listed
    # "auto" resolved as the job ran: the whole set a step, 1,000 passes
    assert job.hyperparameters.n_epochs == 1000 and job.hyperparameters.batch_size == 36
    assert job.method.supervised.hyperparameters.learning_rate_multiplier == 1.0


def test_the_hyperparameters_asked_for_are_what_the_fit_does(served):
    oai = client(served)
    training = upload(oai, chats(range(2)))
    given = {"n_epochs": 4, "batch_size": 12, "learning_rate_multiplier": 0.5}
    with worker(served):
        job = oai.fine_tuning.jobs.create(
            model="minilm", training_file=training,
            method={"type": "supervised", "supervised": {"hyperparameters": given}},
        )  # fmt: skip
        job = wait_for(oai, job.id, ("succeeded", "failed", "cancelled"), timeout=300)
    assert job.status == "succeeded", job.error
    assert job.hyperparameters.model_dump() == given
    steps = [e.data for e in events(oai, job.id) if e.type == "metrics" and "step" in e.data]
    assert steps[-1]["total_steps"] == steps[-1]["step"] == 4 * 3  # 36 texts, 12 a step


def test_classify_answers_the_trained_labels_for_unseen_texts(served, trained):
    answer = classify(served, {"input": [t for t, _ in UNSEEN], "model": trained["model"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == trained["model"] and body["usage"]["prompt_tokens"] > 0
    right = [d["label"] == gold for d, (_, gold) in zip(body["data"], UNSEEN, strict=True)]
    assert sum(right) >= 5, body["data"]
    for item in body["data"]:
        assert {s["label"] for s in item["scores"]} == {"billing", "shipping", "technical"}
        assert sum(s["score"] for s in item["scores"]) == pytest.approx(1.0, abs=1e-4)
    single = classify(served, {"input": "parcel " * 1000, "model": trained["model"]})
    assert single.status_code == 200, single.text  # read by its first part, as in training


def test_a_classifier_is_asked_without_labels_and_only_by_its_org(served, trained):
    model = trained["model"]
    with_labels = classify(served, {"input": "hi", "model": model, "labels": ["a", "b"]})
    assert with_labels.status_code == 400
    assert with_labels.json()["error"]["param"] == "model"
    assert "without `labels`" in with_labels.json()["error"]["message"]
    with_method = classify(served, {"input": "hi", "model": model, "method": "chat"})
    assert with_method.status_code == 400 and with_method.json()["error"]["param"] == "method"
    chat = client(served)
    with pytest.raises(openai.BadRequestError, match="text classifier"):
        chat.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    not_one = classify(served, {"input": "hi", "model": "minilm"})
    assert not_one.status_code == 400 and "not a text classifier" in not_one.text
    other = classify(served, {"input": "hi", "model": model}, org="globex")
    assert other.status_code == 404


def test_a_file_with_one_label_fails_the_job_with_the_reason(served):
    oai = client(served)
    one_label = [c for c in chats(range(2)) if c["messages"][1]["content"] == "billing"]
    training = upload(oai, one_label)
    with worker(served):
        job = oai.fine_tuning.jobs.create(model="minilm", training_file=training)
        job = wait_for(oai, job.id, ("succeeded", "failed", "cancelled"), timeout=120)
    assert job.status == "failed"
    assert job.error.code == "invalid_file_format" and job.error.param == "training_file"
    assert "1 distinct labels" in job.error.message
    assert not ledger_rows(served, job.id) or ledger_rows(served, job.id)[0].status != "ok"
