"""Generate `corpus.jsonl`: labelled PII snippets in Chinese, English and both mixed.

    python tests/privacy/make_corpus.py            # rewrites corpus.jsonl beside this file
    python tests/privacy/make_corpus.py --check    # exits 1 if corpus.jsonl is out of date

Every value is fake and made here from a fixed seed, so the file is the same on every run
(`test_corpus.py` checks that it matches this generator). After the plain snippets come
disguised ones (`corpus_disguises.py`: full-width forms, zero-width and other format
characters, odd spaces and dashes, letters glued in front of numbers), made with a seed of
their own so that adding them changed none of the plain ones. Format characters and
non-ASCII spaces are written as JSON escapes (`\u200b`), so that the file shows them. A snippet is a template whose
slots are filled by value makers:

    {EMAIL:email}     an entity of type EMAIL, value from `Maker.email`
    {NEG:order16}     a lookalike that must NOT be detected, recorded under "lookalikes"
    {NEG:kind=text}   a literal lookalike (a cue with no value, a word that is no name)
    {TXT:city}        plain filler text, neither

Each line: {"id", "lang": "zh"|"en"|"mixed", "text", "entities": [{"type", "start",
"end"}], "lookalikes": [{"kind", "start", "end"}]}; offsets are Python str offsets, end
exclusive. Labelling conventions:

- PHONE spans include a country prefix (+86, 0086, 86-) and the separators inside the
  number, and exclude a port, an extension and surrounding brackets of the whole number
  (but "(0755)12345678" keeps the area code's brackets: they are part of the number).
- PERSON spans are the name only, without titles or honorifics: "Dear Mr. [Johnson]",
  "[张三]先生", "[陈]女士".
- IP spans exclude a port ("192.0.2.7:8080" -> "192.0.2.7") and the brackets of
  "[2001:db8::1]:443"; an IPv6 with an embedded IPv4 is one entity.
- PASSPORT spans are the number only, never the cue word.
- CARD spans are the whole number with its spaces or dashes.
- Disguised values: see `corpus_disguises.py` (the value as written, format characters
  inside it included, glued letters in front excluded; digits with ASCII letters glued on
  both sides are part of a longer token, no value).
"""

# ruff: noqa: E501 (the template tables below keep one snippet a line)

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import unicodedata
from pathlib import Path

try:
    from tests.privacy.corpus_disguises import DISGUISED, DISGUISED_NEGATIVE, Disguises
    from tests.privacy.corpus_lookalikes import Lookalikes
    from tests.privacy.corpus_values import Maker
except ImportError:  # run as a script: this folder is on sys.path
    from corpus_disguises import DISGUISED, DISGUISED_NEGATIVE, Disguises  # type: ignore
    from corpus_lookalikes import Lookalikes  # type: ignore
    from corpus_values import Maker  # type: ignore

SEED = 20240315
OUT = Path(__file__).with_name("corpus.jsonl")
TYPES = ("EMAIL", "PHONE", "CN_ID", "CARD", "IP", "PASSPORT", "PERSON")

# --- templates -------------------------------------------------------------------------
# (lang, repetitions, template). Literal braces are fine: only {TYPE:...} slots are parsed.

# fmt: off
POSITIVE = [
    # Chinese: support messages, forms, logs, chat requests
    ("zh", 4, "您好，我叫{PERSON:zh_name}，手机号{PHONE:mobile_plain}，麻烦尽快回电。"),
    ("zh", 4, "请发邮件到{EMAIL:email}谢谢"),
    ("zh", 4, "客户信息：姓名：{PERSON:zh_name}；身份证号：{CN_ID:cn_id}；联系电话：{PHONE:mobile}。"),
    ("zh", 4, "身份证号{CN_ID:cn_id}，请帮我查询一下社保缴费记录。"),
    ("zh", 4, "我的银行卡号是{CARD:card}，为什么扣款两次？订单号{NEG:order16}。"),
    ("zh", 3, "联系人：{PERSON:zh_name}  电话：{PHONE:landline}  地址：{TXT:city}市朝阳路8号  邮编{NEG:zip}"),
    ("zh", 3, "{PERSON:zh_name}先生您好，您的快递单号{NEG:tracking}已于{NEG:date_zh}签收。"),
    ("zh", 3, "{PERSON:zh_surname}女士，您预订的航班已出票，护照号码：{PASSPORT:passport_cn}，请核对。"),
    ("zh", 3, "登录提醒：您的账号于{NEG:datetime}在IP {IP:ipv4}登录，如非本人操作请及时修改密码。"),
    ("zh", 3, "服务器日志 {NEG:datetime} 来源地址{IP:ip_any}请求超时，耗时{NEG:ms}"),
    ("zh", 3, "办理签证需要提供护照号{PASSPORT:passport_cn}和身份证号{CN_ID:cn_id}，材料请寄到{TXT:city}。"),
    ("zh", 3, "收件人：{PERSON:zh_name}，电话{PHONE:mobile}，邮箱{EMAIL:email}"),
    ("zh", 3, "您尾号{NEG:card_tail}的信用卡{CARD:card}本期账单¥{NEG:price}，最后还款日{NEG:date_zh}。"),
    ("zh", 3, "我是{PERSON:zh_name}，工号{NEG:emp_no}，邮箱是{EMAIL:email}，办公电话{PHONE:landline}。"),
    ("zh", 3, "请把下面这段话改得礼貌一点：{PERSON:zh_surname}经理，你们的客服电话{PHONE:landline}根本打不通！"),
    ("zh", 3, "持卡人：{PERSON:zh_name}\n卡号：{CARD:card}\n预留手机：{PHONE:mobile}"),
    ("zh", 3, "紧急联系人{PERSON:zh_name}，手机{PHONE:mobile_plain}，身份证{CN_ID:cn_id}"),
    ("zh", 2, "酒店入住登记：旅客{PERSON:zh_name}，证件类型：护照，证件号码：{PASSPORT:passport_cn}，入住日期{NEG:date_iso}"),
    ("zh", 2, "防火墙拦截了来自{IP:ipv4}和{IP:ipv6}的访问，规则版本{NEG:semver}。"),
    ("zh", 2, "我叫{PERSON:zh_name}，我的身份证号码是{CN_ID:cn_id}，帮我写一份租房合同。"),
    ("zh", 2, "退款请打到这张卡：{CARD:card}（{TXT:city}分行），户名{PERSON:zh_name}。"),
    ("zh", 2, "海外客户电话{PHONE:intl}，邮箱{EMAIL:email}，请安排英文客服回访。"),
    ("zh", 2, "{PERSON:zh_surname}老师，我的学号是{NEG:amount}，邮箱{EMAIL:email}，作业已提交。"),
    ("zh", 2, "DNS 解析结果：{IP:ipv6}，备用{IP:ipv4}"),
    ("zh", 2, "护照号码：{PASSPORT:passport_us}，国籍：美国，姓名：{PERSON:en_name}"),
    ("zh", 3, "实名认证失败：姓名{PERSON:zh_name}，身份证号码{CN_ID:cn_id}，请上传清晰照片。"),
    ("zh", 3, "乘机人：{PERSON:zh_name} 证件：身份证 {CN_ID:cn_id} 航班：CA1501 {NEG:date_iso}"),
    ("zh", 3, "自动扣款失败，卡号{CARD:card}余额不足，应还金额{NEG:amount}元。"),
    ("zh", 3, "出入境记录查询：护照{PASSPORT:passport_cn}，出境日期{NEG:date_zh}。"),
    ("zh", 2, "如有疑问请联系我们（邮箱：{EMAIL:email}）。"),
    ("zh", 2, "备用号码：{PHONE:mobile_plain}、{PHONE:mobile_plain}，工作日{NEG:time}以后再打。"),
    # English
    ("en", 3, "Hi, my name is {PERSON:en_name} and my card {CARD:card} was charged twice on {NEG:date_iso}. Order #{NEG:order16}."),
    ("en", 3, "Dear Mr. {PERSON:en_last}, your passport number {PASSPORT:passport_us} has been recorded for the trip to {TXT:city_en}."),
    ("en", 3, "Contact: {PERSON:en_name} <{EMAIL:email}>, phone {PHONE:intl}"),
    ("en", 3, "Thanks for your help.\n\nRegards,\n{PERSON:en_name}\n{EMAIL:email}\n{PHONE:intl}"),
    ("en", 2, "Please see the attached agreement.\nsigned, {PERSON:en_name}"),
    ("en", 3, "sshd[2231]: Failed password for invalid user admin from {IP:ipv4} port {NEG:port} ssh2"),
    ("en", 3, '[{NEG:datetime}] "GET /api/v1/orders HTTP/1.1" 200 client={IP:ip_any} ua="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/{NEG:chrome_ver}"'),
    ("en", 3, "Please update my email to {EMAIL:email} and my mobile to {PHONE:mobile}."),
    ("en", 3, "Passport No. {PASSPORT:passport_foreign} expires on {NEG:date_en}."),
    ("en", 3, "I'm {PERSON:en_name} from accounts, can you call me back at {PHONE:intl}? Ticket {NEG:int}."),
    ("en", 2, "Card ending {NEG:card_tail} was declined. Full number {CARD:card}, exp {NEG:exp}."),
    ("en", 2, "Upstream [{IP:ipv6}]:{NEG:port} responded in {NEG:ms}; host runs build {NEG:build}."),
    ("en", 2, "Attn: {PERSON:en_name}, the wire for $ {NEG:price} is pending. Reply to {EMAIL:email}."),
    ("en", 2, "Traveller: Ms. {PERSON:en_last}\nPassport #: {PASSPORT:passport_foreign}\nSeat: 14C"),
    ("en", 2, "Form submitted: name={PERSON:en_name}; email={EMAIL:email}; ip={IP:ipv4}; ts={NEG:ts}"),
    ("en", 2, "Our office in Shanghai: {PHONE:landline}. Ask for Dr. {PERSON:en_last}."),
    ("en", 2, "Billing: the card on file {CARD:card} will be charged ¥{NEG:price} on {NEG:date_en}."),
    ("en", 2, '{"event": "login", "user_ip": "{IP:ip_any}", "email": "{EMAIL:email}", "trace": "{NEG:uuid}"}'),
    ("en", 2, "Hello, this is {PERSON:en_name}. My passport number is {PASSPORT:passport_cn} and the booking ref is {NEG:order16}."),
    ("en", 2, "Dear Mrs. {PERSON:en_last}, we have received your payment from card {CARD:card}."),
    ("en", 2, "Can you draft a reply to {PERSON:en_name} ({EMAIL:email})? She called from {PHONE:intl} at {NEG:time}."),
    ("en", 2, "KYC check: CN resident ID {CN_ID:cn_id}, holder {PERSON:en_name}."),
    ("en", 3, "Charge 4 of 5 declined: card {CARD:card}, merchant ref {NEG:order16}."),
    ("en", 2, "Applicant's passport number: {PASSPORT:passport_foreign}; previous passport {PASSPORT:passport_cn}."),
    ("en", 2, "Blocked {IP:ipv6} after 5 failed logins (limit {NEG:int}/min)."),
    ("en", 2, "Send the signed copy to {EMAIL:email}."),
    ("en", 2, "cc: {EMAIL:email};{EMAIL:email}"),
    ("en", 2, "New sign-in to your account from {IP:ipv4}. Not you? Reset your password."),
    ("en", 2, "The old proxy pool was retired; new egress is {IP:ipv4}:{NEG:port}."),
    # mixed Chinese and English
    ("mixed", 3, "Hi 客服，我的email是{EMAIL:email}，phone {PHONE:mobile}，订单号{NEG:order16}"),
    ("mixed", 3, "麻烦帮我改一下 shipping address, 收件人 {PERSON:zh_name}, tel: {PHONE:mobile}"),
    ("mixed", 3, "My ID card number 是{CN_ID:cn_id}，please verify，谢谢"),
    ("mixed", 2, "VPN 连不上，我的IP是{IP:ipv4}，gateway {IP:ipv4}，客户端版本 {NEG:semver}"),
    ("mixed", 2, "prompt: 帮我写一封邮件给{PERSON:zh_name}（{EMAIL:email}），告诉他发票号码{NEG:invoice}已经开好。"),
    ("mixed", 2, "Name: {PERSON:en_name} / 护照号码：{PASSPORT:passport_cn} / Mobile: {PHONE:mobile}"),
    ("mixed", 2, "付款失败 card={CARD:card} amount=¥{NEG:price_small} err=DECLINED time={NEG:datetime}"),
    ("mixed", 2, "Please call 联系人：{PERSON:zh_name} at {PHONE:landline}, or email {EMAIL:email}."),
    ("mixed", 2, "用户 {IP:ipv6} 多次登录失败，UA: Python/{NEG:pyver} requests"),
    ("mixed", 2, "passport number {PASSPORT:passport_us}，出生日期{NEG:date_zh}，请在 form 里填写。"),
    ("mixed", 2, "我叫{PERSON:zh_name}, my Visa card is {CARD:card}, 身份证 {CN_ID:cn_id}"),
    ("mixed", 2, "Customer {PERSON:en_name} 的香港电话是{PHONE:intl}，内地手机{PHONE:mobile}"),
    ("mixed", 3, "nginx 报错：upstream {IP:ipv4}:{NEG:port} 连接被拒绝"),
    ("mixed", 2, "身份证 ID: {CN_ID:cn_id} / card: {CARD:card}"),
    ("mixed", 2, "{PERSON:zh_name}先生 passport no. {PASSPORT:passport_cn}, seat 32A, 航班 MU5101"),
]

NEGATIVE = [
    # Chinese
    ("zh", 3, "订单号{NEG:order16}已发货，快递单号{NEG:tracking}，预计{NEG:date_zh}送达。"),
    ("zh", 3, "您的订单{NEG:order18}金额¥{NEG:price}，已于{NEG:datetime}支付成功。"),
    ("zh", 2, "发票号码{NEG:invoice}，开票日期{NEG:date_iso}，价税合计¥{NEG:price}"),
    ("zh", 2, "会员卡号{NEG:luhn_fail_grouped}，积分{NEG:int}，有效期至{NEG:date_compact}"),
    ("zh", 2, "系统版本 {NEG:build}，Python {NEG:pyver}，请升级后重试。"),
    ("zh", 3, "工单{NEG:ticket14}已受理，请勿重复提交。"),
    ("zh", 2, "邮编{NEG:zip}，{TXT:city}市海淀区清华园1号，营业时间{NEG:time}-21:00"),
    ("zh", 2, "请在下午{NEG:time}前提交报销单，金额合计{NEG:amount}元。"),
    ("zh", 1, "{NEG:no_name=我叫了}个车，大概十分钟到。"),
    ("zh", 1, "{NEG:no_name=先生们、女士们}，本次航班即将起飞。"),
    ("zh", 2, "姓名：________  电话：________  （请用正楷填写）"),
    ("zh", 2, "{NEG:no_number=护照}过期了怎么办？需要带什么材料？"),
    ("zh", 1, "身份证号码是18位，最后一位可能是X，对吗？"),
    ("zh", 3, "档案编号{NEG:id_bad_checksum}已归档，请勿外传。"),
    ("zh", 2, "证件号{NEG:id_bad_date}校验失败，请核对出生日期。"),
    ("zh", 2, "时间戳{NEG:ts_ms}对应北京时间{NEG:datetime}"),
    ("zh", 2, "图书ISBN {NEG:isbn}，定价¥{NEG:price_small}"),
    ("zh", 2, "提交{NEG:sha1}修复了内存泄漏"),
    ("zh", 2, "设备MAC地址{NEG:mac}，固件{NEG:semver}"),
    ("zh", 1, "手机号码应为11位，以1开头，第二位是3到9。"),
    ("zh", 3, "流水号{NEG:mobile_bad}，交易金额{NEG:amount}元"),
    ("zh", 2, "电话号码{NEG:mobile_short}少了一位，请重新输入。"),
    ("zh", 1, "{NEG:no_name=王者荣耀}新赛季下周开启，{NEG:no_name=张三李四}只是举例。"),
    ("zh", 2, "快递单号{NEG:tracking}，运费¥{NEG:price_small}"),
    ("zh", 1, "{NEG:no_name=联系人：}（未填写）"),
    ("zh", 2, "OID {NEG:oid} 的值异常，采样间隔{NEG:ms}"),
    # English
    ("en", 3, "Order {NEG:order16} shipped via UPS {NEG:ups}, expected {NEG:date_en}."),
    ("en", 2, "Running Python {NEG:pyver} on Windows build {NEG:build}; pip {NEG:semver}."),
    ("en", 2, "Invoice INV-{NEG:invoice_en} total $ {NEG:price} due {NEG:date_iso}."),
    ("en", 1, "Dear Sir or Madam, I am writing about my {NEG:no_number=passport} renewal application."),
    ("en", 1, "Please select {NEG:no_name=Mr}, Mrs or Ms in the title field."),
    ("en", 1, "{NEG:no_name=signed, sealed}, delivered: the contract is final."),
    ("en", 1, "{NEG:no_name=Contact: customer support} (24/7)."),
    ("en", 2, "commit {NEG:sha1} bumps the version to {NEG:semver}"),
    ("en", 2, "Request {NEG:uuid} took {NEG:ms}; sha256 {NEG:sha256}"),
    ("en", 2, "SNMP walk of OID {NEG:oid} returned 42"),
    ("en", 2, "Gift card {NEG:luhn_fail_grouped} has a balance of $ {NEG:price_small}."),
    ("en", 2, "Error 0x{NEG:hex8} at {NEG:time}:07 in module core.dll"),
    ("en", 2, "Tracking number {NEG:tracking}; ISBN {NEG:isbn_plain} is out of stock."),
    ("en", 1, "{NEG:no_name=My name is not} important, I just need the {NEG:no_number=passport} office hours."),
    ("en", 2, "Build {NEG:build} (Chrome/{NEG:chrome_ver}) crashed at {NEG:datetime}."),
    ("en", 2, "Bad address {NEG:ipv4_bad} rejected by the validator."),
    ("en", 2, "Mention {NEG:handle} on the forum, not by email; see {TXT:domain} for details."),
    ("en", 1, "Your {NEG:no_number=passport number} must be entered exactly as printed."),
    ("en", 2, "Reference {NEG:luhn_fail16} does not match any card on file."),
    ("en", 1, "{NEG:no_name=Dear Customer}, thank you for shopping with us."),
    ("en", 2, "Commit {NEG:short_hash} merged; cache key {NEG:sha1}"),
    # mixed Chinese and English
    ("mixed", 2, "订单 order no. {NEG:order16}，amount ¥{NEG:price}，Python {NEG:pyver} 报错"),
    ("mixed", 2, "时间 {NEG:datetime} build {NEG:build} 崩溃，hash {NEG:sha1}"),
    ("mixed", 2, "SKU {NEG:emp_no}-{NEG:int} 库存不足，ETA {NEG:date_en}"),
    ("mixed", 2, "timestamp {NEG:ts} 和 {NEG:ts_ms} 哪个是毫秒？"),
    ("mixed", 1, "请问 {NEG:no_number=passport} 和护照是一回事吗？"),
    ("mixed", 2, "MAC {NEG:mac} 的设备在 {NEG:time} 上线，version {NEG:semver}"),
    ("mixed", 2, "ticket #{NEG:ticket14} 已关闭，invoice {NEG:invoice}"),
]
# fmt: on

SLOT = re.compile(r"\{(EMAIL|PHONE|CN_ID|CARD|IP|PASSPORT|PERSON|NEG|TXT):([^{}]+)\}")


def render(template: str, maker: Maker) -> tuple[str, list[dict], list[dict]]:
    text, entities, lookalikes, pos = "", [], [], 0
    for m in SLOT.finditer(template):
        text += template[pos : m.start()]
        pos = m.end()
        kind, arg = m.group(1), m.group(2)
        if kind == "NEG" and "=" in arg:
            name, value = arg.split("=", 1)
        else:
            name, value = arg, getattr(maker, arg)()
        start = len(text)
        text += value
        if kind in TYPES:
            entities.append({"type": kind, "start": start, "end": len(text)})
        elif kind == "NEG":
            lookalikes.append({"kind": name, "start": start, "end": len(text)})
    text += template[pos:]
    return text, entities, lookalikes


class CorpusMaker(Lookalikes, Maker):
    """Every value and lookalike maker the templates name."""


class DisguiseMaker(Disguises, CorpusMaker):
    """... and their disguises."""


def _group(maker: Maker, group: str, templates: list) -> list[dict]:
    snippets: list[dict] = []
    counters: dict[str, int] = {}
    for lang, reps, template in templates:
        for _ in range(reps):
            text, entities, lookalikes = render(template, maker)
            counters[lang] = counters.get(lang, 0) + 1
            snippets.append(
                {
                    "id": f"{lang}-{group}-{counters[lang]:03d}",
                    "lang": lang,
                    "text": text,
                    "entities": entities,
                    "lookalikes": lookalikes,
                }
            )
    return snippets


def build(seed: int = SEED) -> list[dict]:
    maker = CorpusMaker(random.Random(seed))
    disguiser = DisguiseMaker(random.Random(seed + 1))
    return [
        *_group(maker, "pos", POSITIVE),
        *_group(maker, "neg", NEGATIVE),
        *_group(disguiser, "dis", DISGUISED),
        *_group(disguiser, "disneg", DISGUISED_NEGATIVE),
    ]


def _escaped(line: str) -> str:
    """Format characters and non-ASCII spaces as JSON escapes, so the file shows them."""
    return "".join(
        f"\\u{ord(c):04x}" if c != " " and unicodedata.category(c) in ("Cf", "Zs") else c
        for c in line
    )


def dumps(snippets: list[dict]) -> str:
    return "".join(_escaped(json.dumps(s, ensure_ascii=False)) + "\n" for s in snippets)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the file is current")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    content = dumps(build())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != content:
            print(f"{args.out} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(content, encoding="utf-8")
    print(f"wrote {len(content.splitlines())} snippets to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
