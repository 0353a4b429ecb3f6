#!/usr/bin/env python3
#
# test/multinode/fake_sentinel.py
#	A stand-in for one Redis Sentinel, for the sentinel client's failure
#	checks in test/multinode/run.sh.
#
# Usage: fake_sentinel.py PORT MODE_FILE
#
# Listens on 127.0.0.1:PORT and answers SENTINEL get-master-addr-by-name
# as the first line of MODE_FILE says, read afresh for every question:
#
#	addr HOST PORT	name that server as the master
#	nil		know no such master (what a real sentinel says)
#	error		answer with an error
#	hang		accept the question and never answer it
#
# Every other command gets +OK.  Each question is counted in MODE_FILE.count
# so that the suite can tell whether the worker asked.  Runs until killed.
#

import os
import socket
import sys
import threading


def read_command(stream):
    """Read one RESP array of bulk strings; None at end of stream."""
    line = stream.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        return line.strip().split()
    words = []
    for _ in range(int(line[1:].strip())):
        size = int(stream.readline()[1:].strip())
        words.append(stream.read(size + 2)[:-2])
    return words


def bulk(text):
    data = text.encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


def serve(conn, mode_file):
    stream = conn.makefile("rb")
    try:
        while True:
            words = read_command(stream)
            if words is None:
                return
            if len(words) >= 2 and words[0].upper() == b"SENTINEL" and \
                    words[1].lower() == b"get-master-addr-by-name":
                with open(mode_file + ".count", "a") as count:
                    count.write("asked\n")
                try:
                    with open(mode_file) as f:
                        mode = f.readline().split()
                except OSError:
                    mode = ["nil"]
                if not mode or mode[0] == "nil":
                    conn.sendall(b"*-1\r\n")
                elif mode[0] == "addr":
                    conn.sendall(b"*2\r\n" + bulk(mode[1]) + bulk(mode[2]))
                elif mode[0] == "hang":
                    # Keep the connection open, unanswered, until closed.
                    while stream.read(1):
                        pass
                    return
                else:
                    conn.sendall(b"-ERR fake sentinel refuses\r\n")
            else:
                conn.sendall(b"+OK\r\n")
    except (OSError, ValueError):
        return
    finally:
        conn.close()


def main():
    port = int(sys.argv[1])
    mode_file = sys.argv[2]
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)
    with open(mode_file + ".pid", "w") as f:
        f.write("%d\n" % os.getpid())
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn, mode_file),
                         daemon=True).start()


if __name__ == "__main__":
    main()
