"""What kind of answer a question expects, and whether a sentence holds one: the classic
answer-type step of question answering. "多少钱" / "how much does it cost" wants an
amount of money, "多久" / "how often" a duration, "几点" / "what time" a time of day, and
so on; a sentence that names none cannot answer such a question, however many of its
words it shares."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = r"(?:\d[\d,.]*|[一二三四五六七八九十两百千万半]+)"


@dataclass(frozen=True, slots=True)
class AnswerType:
    name: str
    question: re.Pattern[str]
    answer: re.Pattern[str]


def _type(name: str, question: str, answer: str) -> AnswerType:
    return AnswerType(name, re.compile(question, re.I), re.compile(answer, re.I))


# the first type whose question pattern matches is the question's type
TYPES = (
    _type(
        "phone",
        r"电话|热线|号码|phone|call (?:you|us)|telephone|hotline",
        r"\d{3,4}[- ]?\d{3,4}[- ]?\d{3,4}|\+\d[\d ]{7,}",
    ),
    _type("email", r"邮箱|电子邮件|e-?mail", r"[\w.+-]+@[\w-]+\.[\w.]+"),
    _type(
        "address",
        r"地址|在哪|哪里|address|where (?:is|are|do|should|can)|postcode",
        r"路|街|号|区|市|省|unit \d|lane|road|street|park|[A-Z]{1,2}\d{1,2} ?\d[A-Z]{2}",
    ),
    _type(
        "money",
        r"多少钱|价格|花多少|付多少|出多少|收多少|扣多少|售价|卖多少|cost|price|"
        r"how much (?:do|does|is|are|will|would|to|money)",
        rf"{_NUMBER}\s*(?:元|块|美元|英镑|欧元)|[£$€¥]\s*\d|"
        r"\d+(?:\.\d+)?\s*(?:pounds|dollars|euros|p\b)|免费|free",
    ),
    _type(
        "percent", r"百分之|比例|多少%|percent|percentage|what share", r"\d+(?:\.\d+)?\s*%|百分之"
    ),
    _type(
        "time_of_day",
        r"几点|什么时间|什么时候前|latest|what time|until when|by when|opening hours",
        r"\d{1,2}[:：]\d{2}|\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.)|[上下]午\s*\d|\d{1,2}点",
    ),
    _type(
        "duration",
        r"多久|多长时间|几天|多少天|几个月|几年|多少年|隔多长|期限|how long|how often|"
        r"how many (?:days|weeks|months|years|hours)|how soon|within how",
        r"(?<!\d)(?:\d{1,3}|[一二三四五六七八九十两半]+)\s*(?:个)?(?:天|周|星期|年|小时|分钟|"
        r"工作日)|(?:\d+|[一二三四五六七八九十两半]+)\s*个月|"
        r"\d+\s*(?:working |business )?(?:days?|weeks?|months?|years?|hours?|minutes?)|"
        r"every \w+|each \w+",
    ),
    _type(
        "weight",
        r"多重|重量|多少公斤|多少千克|how heavy|weigh",
        rf"{_NUMBER}\s*(?:千克|公斤|克|斤|kg|g\b|lb)",
    ),
    _type(
        "size",
        r"多高|多长|多宽|高度|尺寸|距离|多大|面积|how (?:high|tall|long|wide|far|big|large)|"
        r"height|size|distance|area",
        rf"{_NUMBER}\s*(?:米|厘米|毫米|公里|平方米|㎡|m²|m\b|cm|mm|km|metres?|meters?|"
        r"inch(?:es)?|feet|ft)",
    ),
    _type(
        "volume",
        r"多少水|容量|装多少|多少升|capacity|how much water|litres|liters|volume",
        rf"{_NUMBER}\s*(?:升|毫升|l\b|ml|litres?|liters?)",
    ),
    _type(
        "date",
        r"哪一?年|何时|什么时候|哪天|日期|成立|上市|when|what year|which year|since when|founded",
        r"\d{4}\s*年|\d{1,2}\s*月\s*\d{1,2}\s*日|\b(?:19|20)\d{2}\b",
    ),
    _type(
        "count",
        r"多少|几|how many|number of",
        rf"{_NUMBER}",
    ),
)


def expected_type(question: str) -> AnswerType | None:
    return next((t for t in TYPES if t.question.search(question)), None)


def holds(answer_type: AnswerType | None, sentence: str) -> bool:
    """Whether `sentence` names an answer of the type (False when there is no type)."""
    return answer_type is not None and answer_type.answer.search(sentence) is not None
