"""The moderation worker: mutes, bans, kicks, block lists, rate-limit policy and the audit log."""
