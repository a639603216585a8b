// Interface text in English and Simplified Chinese; the choice is kept in localStorage.
"use strict";

const MESSAGES = {
  en: {
    "title": "Mimo admin", "signout": "Sign out",
    "nav.overview": "Overview", "nav.daily": "Daily metrics", "nav.user": "Users",
    "nav.room": "Rooms", "nav.audit": "Audit log",
    "signin.title": "Sign in", "signin.key": "API key", "signin.submit": "Sign in",
    "signin.failed": "Sign-in failed: the API key was rejected.",
    "overview.online": "Online connections", "overview.up": "Messages sent per second",
    "overview.delivered": "Messages delivered per second",
    "overview.gateways": "Connections per gateway",
    "daily.from": "From", "daily.to": "To", "show": "Show", "lookup": "Look up", "more": "More",
    "user.id": "User id", "user.state": "State", "user.kick": "Kick (end all sessions)",
    "user.ban": "Ban", "user.unban": "Unban", "user.mute": "Mute", "user.unmute": "Unmute",
    "user.sessions": "Sessions", "user.rooms": "Rooms", "user.online": "online",
    "user.offline": "offline", "user.banned": "banned until", "user.muted": "muted until",
    "user.kicked": "Ended {n} session(s) of {uid}.", "done": "Done.",
    "duration": "Duration (s, 0 = until lifted)", "reason": "Reason",
    "room.id": "Room id", "room.muteAll": "Mute all", "room.unmuteAll": "Lift mute all",
    "room.destroy": "Destroy room", "room.members": "Members",
    "room.confirmDestroy": "Destroy room {room}? Its members and history are removed.",
    "room.destroyed": "Room {room} was destroyed.", "lifted": "until lifted",
    "col.gateway": "Gateway", "col.connections": "Connections", "col.session": "Session",
    "col.platform": "Platform", "col.device": "Device", "col.address": "Address",
    "col.since": "Since", "col.user": "User", "col.role": "Role", "col.time": "Time",
    "col.actor": "Actor", "col.action": "Action", "col.target": "Target", "col.room": "Room",
    "col.until": "Until", "col.reason": "Reason", "col.date": "Date",
    "field.name": "Name", "field.owner": "Owner", "field.members": "Members",
    "field.online": "Online", "field.seq": "Latest seq", "field.muted_all": "Mute all",
    "field.max_members": "Max members", "field.admins": "Admins",
    "metric.p2p_up": "Personal sent", "metric.p2p_delivered": "Personal delivered",
    "metric.room_up": "Room sent", "metric.room_delivered": "Room delivered",
    "metric.rooms_created": "Rooms created", "metric.new_users": "New users",
    "metric.login_users": "Users logged in", "metric.active_users": "Active users",
    "error": "Request failed", "yes": "yes", "no": "no",
    "role.owner": "owner", "role.admin": "admin", "role.member": "member",
    "action.logout": "forced logout", "action.user.ban": "ban", "action.user.unban": "unban",
    "action.user.mute": "mute", "action.user.unmute": "unmute",
    "action.room.mute": "room mute", "action.room.unmute": "room unmute",
    "action.room.kick": "room kick", "action.room.unban": "room unban",
    "action.room.mute_all": "mute all", "action.room.unmute_all": "lift mute all",
    "action.room.rate": "room rate", "action.room.destroy": "room destroyed",
    "action.admin.grant": "admin granted", "action.admin.revoke": "admin revoked",
  },
  "zh-CN": {
    "title": "Mimo 管理后台", "signout": "退出登录",
    "nav.overview": "概览", "nav.daily": "每日统计", "nav.user": "用户",
    "nav.room": "房间", "nav.audit": "审计日志",
    "signin.title": "登录", "signin.key": "API 密钥", "signin.submit": "登录",
    "signin.failed": "登录失败：API 密钥无效。",
    "overview.online": "在线连接数", "overview.up": "每秒发送消息数",
    "overview.delivered": "每秒投递消息数", "overview.gateways": "各网关连接数",
    "daily.from": "开始日期", "daily.to": "结束日期", "show": "显示", "lookup": "查询",
    "more": "更多",
    "user.id": "用户 ID", "user.state": "状态", "user.kick": "踢下线（结束所有会话）",
    "user.ban": "封禁", "user.unban": "解除封禁", "user.mute": "禁言", "user.unmute": "解除禁言",
    "user.sessions": "会话", "user.rooms": "所在房间", "user.online": "在线",
    "user.offline": "离线", "user.banned": "封禁至", "user.muted": "禁言至",
    "user.kicked": "已结束 {uid} 的 {n} 个会话。", "done": "操作成功。",
    "duration": "时长（秒，0 = 直到解除）", "reason": "原因",
    "room.id": "房间 ID", "room.muteAll": "全员禁言", "room.unmuteAll": "解除全员禁言",
    "room.destroy": "解散房间", "room.members": "成员",
    "room.confirmDestroy": "确定解散房间 {room}？成员和历史消息将被删除。",
    "room.destroyed": "房间 {room} 已解散。", "lifted": "直到解除",
    "col.gateway": "网关", "col.connections": "连接数", "col.session": "会话",
    "col.platform": "平台", "col.device": "设备", "col.address": "地址", "col.since": "登录时间",
    "col.user": "用户", "col.role": "角色", "col.time": "时间", "col.actor": "操作者",
    "col.action": "操作", "col.target": "对象", "col.room": "房间", "col.until": "截止",
    "col.reason": "原因", "col.date": "日期",
    "field.name": "名称", "field.owner": "房主", "field.members": "成员数",
    "field.online": "在线人数", "field.seq": "最新序号", "field.muted_all": "全员禁言",
    "field.max_members": "成员上限", "field.admins": "管理员",
    "metric.p2p_up": "单聊发送", "metric.p2p_delivered": "单聊送达",
    "metric.room_up": "房间发送", "metric.room_delivered": "房间投递",
    "metric.rooms_created": "新建房间", "metric.new_users": "新增用户",
    "metric.login_users": "登录用户", "metric.active_users": "活跃用户",
    "error": "请求失败", "yes": "是", "no": "否",
    "role.owner": "房主", "role.admin": "管理员", "role.member": "成员",
    "action.logout": "强制下线", "action.user.ban": "封禁", "action.user.unban": "解除封禁",
    "action.user.mute": "禁言", "action.user.unmute": "解除禁言",
    "action.room.mute": "房间禁言", "action.room.unmute": "解除房间禁言",
    "action.room.kick": "踢出房间", "action.room.unban": "解除房间封禁",
    "action.room.mute_all": "全员禁言", "action.room.unmute_all": "解除全员禁言",
    "action.room.rate": "房间限速", "action.room.destroy": "解散房间",
    "action.admin.grant": "设为管理员", "action.admin.revoke": "取消管理员",
  },
};

let language = localStorage.getItem("mimo.lang") || "en";

function t(key, values) {
  let text = (MESSAGES[language] && MESSAGES[language][key]) || MESSAGES.en[key] || key;
  for (const [name, value] of Object.entries(values || {})) {
    text = text.replace(`{${name}}`, value);
  }
  return text;
}

function applyLanguage(lang) {
  language = MESSAGES[lang] ? lang : "en";
  localStorage.setItem("mimo.lang", language);
  document.documentElement.lang = language;
  document.querySelectorAll("[data-i18n]").forEach((node) => {
    node.textContent = t(node.dataset.i18n);
  });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((node) => {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  });
}
