"""Fork-per-message baseline for mdbench.

What Mailman 2.1's mail wrapper (scripts/post via mail/mailman) did for
every message the MTA piped to it: start Python, parse the message with
the email module, and enqueue it as a pickle into a queue directory the
way Switchboard.enqueue does (write a temporary file, rename it into
place). The list and subqueue come from the envelope recipient that the
MTA put in X-Original-To / Delivered-To, as mdroute reads it.

usage: python3 forkwrap.py QUEUE < message
"""

import email
import hashlib
import os
import pickle
import sys
import time

SUBQUEUES = {
    "bounces": "bounces", "admin": "bounces", "confirm": "confirm",
    "join": "join", "subscribe": "join", "leave": "leave",
    "unsubscribe": "leave", "owner": "owner", "request": "request",
}


def route(msg):
    rcpt = msg.get("X-Original-To") or msg.get("Delivered-To")
    if not rcpt:
        sys.exit(100)
    local = rcpt.strip().lower().split("@", 1)[0].split("+", 1)[0]
    head, _, tail = local.rpartition("-")
    if head and tail in SUBQUEUES:
        return head, SUBQUEUES[tail]
    return local, "post"


def main():
    queue = sys.argv[1]
    msg = email.message_from_binary_file(sys.stdin.buffer)
    listname, sub = route(msg)
    qdir = os.path.join(queue, listname, sub)
    os.makedirs(qdir, exist_ok=True)
    now = time.time()
    msgsave = pickle.dumps(msg, 1)
    digest = hashlib.sha1(msgsave + listname.encode() + repr(now).encode()).hexdigest()
    base = os.path.join(qdir, repr(now) + "+" + digest)
    data = {"listname": listname, "subqueue": sub, "tolist": 1,
            "received_time": now, "version": 3}
    with open(base + ".tmp", "wb") as fp:
        fp.write(msgsave)
        pickle.dump(data, fp, 1)
    os.rename(base + ".tmp", base + ".pck")


if __name__ == "__main__":
    main()
