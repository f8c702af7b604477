"""Citizen feedback (phản ánh, kiến nghị): `feedback.events.v1` folded into `feedback` rows, each change
published to `feedback.status.v1` (`worker`)."""
