#!/usr/bin/env python3
"""test/alerts/tally.py: what the fakes received, one tab-separated line each.

Usage: tally.py RECEIVER_FILE MAIL_FILE PATH_PREFIX

Prints "channel<TAB>target<TAB>alert_id<TAB>status" for every POST in
RECEIVER_FILE (receiver.py's JSON lines) whose path is PATH_PREFIX/slack or
PATH_PREFIX/sms, and for every message in MAIL_FILE (fake_sendmail's
output; channel "email", status 200).  The alert id is read from the
message text, which ends "(alert <id>, raised <time>).".  A POST or a mail
that cannot be read prints a line with alert_id "?" (the check then fails
on it rather than missing it).  Missing files count as empty.
"""

import json
import os
import re
import sys

SEPARATOR = "----- fake_sendmail: end of message -----"
ALERT = re.compile(r"\(alert (\d+), raised [^)]*\)\.")


def alert_of(text):
    found = ALERT.findall(text or "")
    return found[-1] if found else "?"


def clean(value):
    return str(value).replace("\t", " ").replace("\n", " ").replace("\\", "\\\\")


def main():
    receiver_file, mail_file, prefix = sys.argv[1:4]
    rows = []

    if os.path.exists(receiver_file):
        with open(receiver_file, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                post = json.loads(line)
                path = post["path"]
                if path == prefix + "/slack":
                    channel, target_key, text_key = "slack", "channel", "text"
                elif path == prefix + "/sms":
                    channel, target_key, text_key = "sms", "to", "message"
                else:
                    continue
                try:
                    body = json.loads(post["body"])
                    target = body.get(target_key, "?")
                    alert = alert_of(body.get(text_key))
                except (ValueError, AttributeError):
                    target, alert = "?", "?"
                rows.append((channel, target, alert, post["status"]))

    if os.path.exists(mail_file):
        with open(mail_file, encoding="utf-8") as f:
            content = f.read()
        for message in content.split("\n" + SEPARATOR + "\n"):
            if not message.strip():
                continue
            target = "?"
            for header in message.split("\n\n", 1)[0].splitlines():
                if header.startswith("To: "):
                    target = header[4:].strip()
            rows.append(("email", target, alert_of(message), 200))

    for row in rows:
        print("\t".join(clean(v) for v in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
