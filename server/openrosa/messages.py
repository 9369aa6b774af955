"""Vietnamese for the refusals ODK Collect shows to enumerators; Collect prints the message as it is."""
from __future__ import annotations

VI = {
    "400": "Phiếu không hợp lệ, máy chủ không nhận",
    "401.2": "Tên đăng nhập hoặc mật khẩu không đúng",
    "403.1": "Tài khoản hoặc mã QR này không có quyền (có thể đã bị thu hồi); hãy xin mã mới từ người giám sát",
    "404.1": "Không tìm thấy biểu mẫu hoặc dự án trên máy chủ; hãy kiểm tra địa chỉ máy chủ hoặc tải lại biểu mẫu",
    "404.5": "Không tìm thấy phiếu gốc cần sửa trên máy chủ",
    "404.6": "Phiên bản biểu mẫu của phiếu này không có trên máy chủ; hãy tải biểu mẫu mới rồi nhập lại",
    "409.1": "Phiếu có cùng mã đã được gửi với nội dung khác; hãy báo người giám sát",
    "409.2": "Biểu mẫu đã đóng, không nhận thêm phiếu; hãy báo người giám sát",
    "409.3": "Mã phiếu này đã có trên máy chủ",
    "409.9": "Bản phiếu bạn đang sửa đã cũ; hãy tải bản mới nhất rồi sửa lại",
    "409.18": "Phiếu này đã bị xóa trên máy chủ, không thể gửi lại",
    "413": "Phiếu hoặc tệp đính kèm quá lớn để gửi",
    "507": "Máy chủ đã hết dung lượng lưu trữ nên phiếu chưa được lưu; phiếu vẫn còn trên máy, hãy gửi lại sau và báo người giám sát",
    "429.91": "Đăng nhập sai quá nhiều lần; hãy đợi {minutes} phút rồi thử lại, hoặc nhờ quản trị viên đặt mật khẩu mới",
}


def bilingual(code: str, message: str, details: dict | None = None) -> str:
    vi = VI.get(code) or VI.get(code.split(".")[0])
    if vi and details:
        vi = vi.format(**details)
    return f"{vi}. / {message}" if vi else message
