"""LogFollower: instance log files into CloudWatch Logs streams, through the emulator's Logs."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from emulator.sagemaker import log_streams
from emulator.sagemaker.log_streams import LogFollower


class Account:
    """What LogFollower needs of the engine: clients of the running emulator."""

    def __init__(self, aws: Any) -> None:
        self.aws = aws

    def client(self, service: str) -> Any:
        return self.aws(service)


def messages(aws, group: str) -> dict[str, list[str]]:
    logs = aws("logs")
    found = {}
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        name = stream["logStreamName"]
        events = logs.get_log_events(logGroupName=group, logStreamName=name, startFromHead=True)
        found[name] = [event["message"] for event in events["events"]]
    return found


def test_complete_lines_go_at_once_and_the_unfinished_one_at_stop(aws, tmp_path: Path) -> None:
    group = f"/aws/sagemaker/Endpoints/follow-{uuid.uuid4().hex[:6]}"
    (tmp_path / "instance-1.log").write_text("loading\nready\nhalf a li")
    (tmp_path / "instance-2.log").write_text("other instance\n")
    (tmp_path / "unrelated.txt").write_text("not an instance\n")
    follower = LogFollower(Account(aws), group, "AllTraffic", tmp_path)
    follower.send_new(final=False)
    first = messages(aws, group)
    assert sorted(first.values()) == [["loading", "ready"], ["other instance"]]
    with (tmp_path / "instance-1.log").open("a") as handle:
        handle.write("ne\nlast words")
    follower.stop()
    stream = follower.stream_of(tmp_path / "instance-1.log")
    assert messages(aws, group)[stream] == ["loading", "ready", "half a line", "last words"]


def test_a_line_longer_than_a_read_goes_in_pieces(aws, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(log_streams, "READ_LIMIT", 8)
    group = f"/aws/sagemaker/Endpoints/long-{uuid.uuid4().hex[:6]}"
    (tmp_path / "instance-1.log").write_text("x" * 20 + "\nshort\n")
    follower = LogFollower(Account(aws), group, "v", tmp_path)
    follower.stop()  # stop without start: a final pass reads every piece
    (logged,) = messages(aws, group).values()
    assert "".join(logged[:-1]) == "x" * 20
    assert logged[-1] == "short"
