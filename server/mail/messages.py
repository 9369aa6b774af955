"""The messages Hamlet sends, in the account's language (Vietnamese unless the user chose English).

Plain text only: it reads the same in every mail program, and a link in it is a plain URL. A message to
an address with no account is in both languages, since there is no user whose language to follow."""
from __future__ import annotations

from email import policy
from email.message import EmailMessage

DEFAULT = "vi"
# Python's email package folds a long non-ASCII header between two encoded words and so loses the space
# there ("hamlet.test đã" arrives as "hamlet.testđã"); lines up to RFC 5322's 998 characters never fold.
_POLICY = policy.default.clone(max_line_length=998)

_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "invite": {
        "vi": ("Tài khoản của bạn trên máy chủ khảo sát {site}",
               "Xin chào {name},\n\n"
               "Quản trị viên đã tạo cho bạn một tài khoản trên máy chủ khảo sát {site}, "
               "với địa chỉ email {email}.\n\n"
               "Mở liên kết dưới đây để đặt mật khẩu, rồi đăng nhập:\n\n{link}\n\n"
               "Liên kết dùng được một lần và hết hạn sau {days} ngày. Nếu liên kết đã hết hạn, "
               "hãy bấm \"Quên mật khẩu?\" ở trang đăng nhập để nhận liên kết mới.\n"),
        "en": ("Your account on the survey server {site}",
               "Hello {name},\n\n"
               "An administrator has made you an account on the survey server {site}, "
               "with the email address {email}.\n\n"
               "Open the link below to choose your password, then sign in:\n\n{link}\n\n"
               "The link works once and expires in {days} days. If it has expired, use "
               "\"Forgot password?\" on the sign-in page to get a new one.\n"),
    },
    "reset": {
        "vi": ("Đặt lại mật khẩu trên {site}",
               "Xin chào {name},\n\n"
               "Có người (có thể là bạn) đã yêu cầu đặt lại mật khẩu cho tài khoản {email} trên {site}.\n\n"
               "Mở liên kết dưới đây để đặt mật khẩu mới:\n\n{link}\n\n"
               "Liên kết dùng được một lần và hết hạn sau {hours} giờ. Khi đặt mật khẩu mới, mọi nơi "
               "đang đăng nhập bằng tài khoản này sẽ bị đăng xuất.\n\n"
               "Nếu bạn không yêu cầu, hãy bỏ qua thư này: mật khẩu của bạn vẫn như cũ.\n"),
        "en": ("Reset your password on {site}",
               "Hello {name},\n\n"
               "Someone (probably you) asked to reset the password of the account {email} on {site}.\n\n"
               "Open the link below to choose a new password:\n\n{link}\n\n"
               "The link works once and expires in {hours} hours. Setting a new password signs this "
               "account out everywhere it is signed in.\n\n"
               "If you did not ask for this, ignore this message: your password stays as it is.\n"),
    },
    "no_account": {
        "vi": ("Yêu cầu đặt lại mật khẩu trên {site}",
               "Có người (có thể là bạn) đã yêu cầu đặt lại mật khẩu cho địa chỉ {email} trên {site}, "
               "nhưng không có tài khoản nào dùng địa chỉ này.\n\n"
               "Nếu đó là bạn, có thể bạn đã đăng ký bằng một địa chỉ khác; hãy hỏi quản trị viên. "
               "Nếu không phải bạn, hãy bỏ qua thư này.\n"),
        "en": ("Password reset request on {site}",
               "Someone (probably you) asked to reset the password for {email} on {site}, "
               "but no account uses this address.\n\n"
               "If it was you, your account may use another address: ask your administrator. "
               "If it was not you, ignore this message.\n"),
    },
    "password_changed": {
        "vi": ("Mật khẩu của bạn trên {site} đã được đổi",
               "Xin chào {name},\n\n"
               "Mật khẩu của tài khoản {email} trên {site} vừa được đổi ({when} UTC).\n\n"
               "Nếu chính bạn đổi, không cần làm gì thêm. Nếu không phải bạn, hãy báo ngay cho quản trị "
               "viên, hoặc bấm \"Quên mật khẩu?\" ở trang đăng nhập để đặt mật khẩu mới:\n\n{sign_in}\n"),
        "en": ("Your password on {site} was changed",
               "Hello {name},\n\n"
               "The password of the account {email} on {site} was changed just now ({when} UTC).\n\n"
               "If you changed it, there is nothing to do. If you did not, tell your administrator at once, "
               "or use \"Forgot password?\" on the sign-in page to set a new one:\n\n{sign_in}\n"),
    },
}

_TEXTS["test"] = {
    "vi": ("Thư thử từ {site}", "Máy chủ {site} gửi được email. Không cần trả lời thư này.\n"),
    "en": ("Test message from {site}", "The server {site} can send email. There is no need to answer.\n"),
}

KINDS = tuple(_TEXTS)


def language_of(language: str | None) -> str:
    return language if language in ("vi", "en") else DEFAULT


def compose(kind: str, to: str, language: str | None, **values: object) -> EmailMessage:
    """One message of `kind` to `to`; language None on an address without an account gives both languages."""
    message = EmailMessage(policy=_POLICY)
    message["To"] = to
    values.setdefault("email", to)
    if kind in ("no_account", "test"):
        vi_subject, vi_body = _TEXTS[kind]["vi"]
        _, en_body = _TEXTS[kind]["en"]
        message["Subject"] = vi_subject.format(**values)
        message.set_content(vi_body.format(**values) + "\n— English —\n\n" + en_body.format(**values),
                            cte="quoted-printable")
        message["Content-Language"] = "vi, en"
        return message
    lang = language_of(language)
    subject, body = _TEXTS[kind][lang]
    message["Subject"] = subject.format(**values)
    message.set_content(body.format(**values), cte="quoted-printable")
    message["Content-Language"] = lang
    return message
