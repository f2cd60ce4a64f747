#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# One BitTorrent host for the cluster benchmark (libtorrent): makes the torrent,
# seeds it, or leeches it from peers given by address (no tracker, no DHT).
"""bt_peer.py make FILE TORRENT [PIECE_BYTES]
bt_peer.py seed TORRENT DIR LISTEN_IP [--upload-rate BYTES]
bt_peer.py leech TORRENT DIR LISTEN_IP PEER_IP[,PEER_IP...] [--upload-rate BYTES]

seed/leech print "ready" once listening, "done" when the file is complete and
verified, and on SIGTERM "uploaded <payload bytes>" before exiting; a
leecher keeps seeding until then, as a cluster node would."""
import os
import signal
import sys
import time

import libtorrent as lt

PORT = 6881


def make(path, torrent, piece_bytes=0):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    t = lt.create_torrent(fs, piece_bytes)
    lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(path)))
    with open(torrent, "wb") as f:
        f.write(lt.bencode(t.generate()))


def session(listen_ip, upload_rate):
    settings = {
        "listen_interfaces": f"{listen_ip}:{PORT}",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        # TCP only, like the other two systems.
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    }
    if upload_rate:
        settings["upload_rate_limit"] = upload_rate
        settings["ignore_limits_on_local_network"] = False
    return lt.session(settings)


def run(role, torrent, save_dir, listen_ip, peers, upload_rate):
    ses = session(listen_ip, upload_rate)
    info = lt.torrent_info(torrent)
    params = lt.add_torrent_params()
    params.ti = info
    params.save_path = save_dir
    if role == "seed":
        params.flags |= lt.torrent_flags.seed_mode
    h = ses.add_torrent(params)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    print("ready", flush=True)
    connected = 0.0
    done = role == "seed"
    if done:
        print("done", flush=True)
    deadline = time.monotonic() + 3600  # bounded whatever happens
    while not stop["now"] and time.monotonic() < deadline:
        now = time.monotonic()
        if peers and now - connected > 2.0:
            # Direct peer connections; repeated so late starters are found.
            for p in peers:
                h.connect_peer((p, PORT), 0)
            connected = now
        if not done and h.status().is_seeding:
            done = True
            print("done", flush=True)
        time.sleep(0.05)
    print(f"uploaded {h.status().total_payload_upload}", flush=True)


def main(argv):
    if len(argv) >= 3 and argv[1] == "make":
        make(argv[2], argv[3], int(argv[4]) if len(argv) > 4 else 0)
        return 0
    upload_rate = 0
    if "--upload-rate" in argv:
        i = argv.index("--upload-rate")
        upload_rate = int(argv[i + 1])
        del argv[i : i + 2]
    if len(argv) == 5 and argv[1] == "seed":
        run("seed", argv[2], argv[3], argv[4], [], upload_rate)
        return 0
    if len(argv) == 6 and argv[1] == "leech":
        peers = [p for p in argv[5].split(",") if p and p != argv[4]]
        run("leech", argv[2], argv[3], argv[4], peers, upload_rate)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
