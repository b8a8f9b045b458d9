"""What the IVR says, in the caller's language: Chinese callers hear zh-CN prompts (read
by Twilio's zh-CN voice), English callers en-US. One table, so a prompt is never missing
in one language."""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
TTS = {"zh": "zh-CN", "en": "en-US"}
VOICES = {"zh": "Polly.Zhiyu", "en": "Polly.Joanna"}


@dataclass(frozen=True, slots=True)
class Prompt:
    zh: str
    en: str

    def __call__(self, language: str, **values: object) -> str:
        text = self.zh if language == "zh" else self.en
        return text.format(**values) if values else text


GREETING_ZH = Prompt("您好，欢迎致电客户服务中心。中文服务请按1。", "")
GREETING_EN = Prompt("", "Welcome to customer service. For English, press 2.")
MENU = Prompt(
    "查询订单状态请按1，维修服务请按2，其他问题请按3。",
    "For order status, press 1. For repair service, press 2. For anything else, press 3.",
)
NOT_UNDERSTOOD = Prompt("抱歉，我没有听清。", "Sorry, I did not get that.")
ORDER_NUMBER = Prompt(
    "请输入您的订单号，以井号键结束。", "Please key in your order number, then press the pound key."
)
ORDER_CALLBACK = Prompt(
    "我们暂时无法查询订单 {order}。客服人员会尽快给您回电。再见。",
    "We cannot look up order {order} right now. An agent will call you back. Goodbye.",
)
ORDER_ANSWER_END = Prompt("感谢您的来电，再见。", "Thank you for calling. Goodbye.")
CONNECTING = Prompt(
    "正在为您转接客服人员，请稍候。", "Please hold while we connect you to an agent."
)
POSITION = Prompt(
    "您前面还有 {ahead} 位客户，请耐心等待。",
    "You are number {position} in the queue. Thank you for waiting.",
)
CLOSED = Prompt(
    "现在是非工作时间。请在提示音后留言，我们会在工作时间给您回电。",
    "We are closed right now. Please leave a message after the tone; "
    "we will call you back during business hours.",
)
NO_AGENT = Prompt(
    "抱歉，客服人员暂时都在忙。请在提示音后留言，我们会尽快给您回电。",
    "Sorry, all our agents are busy. Please leave a message after the tone "
    "and we will call you back.",
)
THANKS_MESSAGE = Prompt(
    "留言已收到，我们会尽快回电。再见。", "Thank you, we got your message. Goodbye."
)
NO_NUMBER = Prompt(
    "抱歉，我们无法识别您的来电号码，请显示号码后再拨打。",
    "Sorry, we cannot take calls from a hidden number. Please call again showing your number.",
)
AGENT_CALLBACK = Prompt(
    "正在为工单 {number} 回拨客户，请稍候。", "Calling back the customer of ticket {number}."
)
AGENT_WHISPER = Prompt("来电工单 {number}。", "Call for ticket {number}.")

# Words a caller may say instead of keying a digit (Gather input="dtmf speech").
LANGUAGE_WORDS = {"zh": ("中文", "普通话", "汉语", "一"), "en": ("english", "英语", "two")}
MENU_WORDS = {
    "order": ("订单", "order", "status", "一", "one"),
    "repair": ("维修", "修理", "repair", "service", "二", "two"),
    "other": ("其他", "其它", "other", "else", "三", "three"),
}
MENU_DIGITS = {"1": "order", "2": "repair", "3": "other"}
TICKET_TEXT = {
    "repair": Prompt("电话来电：维修服务", "Phone call: repair service"),
    "other": Prompt("电话来电：其他问题", "Phone call: other enquiry"),
    "order": Prompt(
        "电话来电：查询订单 {order} 状态，请回电",
        "Phone call: order status {order}, please call back",
    ),
}
