"""Small helpers lib/keel.sh calls from bash.

  tool.py json EXPR                 EXPR of the JSON on stdin (as d), printed
  tool.py whole-zip FILE            exits 0 when FILE is a complete zip (a jar no build is rewriting)
  tool.py free-ports COUNT F-L      the lowest COUNT ports of F..L a server could listen on now
  tool.py meta FILE KEY=VALUE...    FILE: the machine (cpus, model, start) and these, as JSON
  tool.py result FILE EXPR          EXPR of the JSON in FILE (as d), printed
  tool.py object KEY VALUE...       a JSON object of these string pairs, printed
  tool.py first-backup API DB       waits until Keel's first base backup of DB is completed
  tool.py settings KEEL_URL PGBR_URL [replay]
                                    dies unless both servers have the same settings (with replay: also
                                    those that drive WAL replay); results/settings.json holds them
"""
import json
import sys
import zipfile

from benchlib.core import machine
from benchlib.keel import wait_first_backup
from benchlib.pg import REPLAY_SETTINGS, SETTINGS, free_ports, settings


def main(command, args):
    if command == "json":
        print(eval(args[0], {"d": json.load(sys.stdin)}))
    elif command == "result":
        with open(args[0]) as f:
            print(eval(args[1], {"d": json.load(f)}))
    elif command == "settings":
        settings(args[0], args[1], SETTINGS + (REPLAY_SETTINGS if args[2:] == ["replay"] else []))
    elif command == "first-backup":
        wait_first_backup(*args)
    elif command == "object":
        print(json.dumps(dict(zip(args[0::2], args[1::2]))))
    elif command == "whole-zip":
        sys.exit(zipfile.ZipFile(args[0]).testzip() is not None)
    elif command == "free-ports":
        first, last = map(int, args[1].split("-"))
        found = free_ports(int(args[0]), first, last)
        if not found:
            sys.exit(1)
        print(" ".join(map(str, found)))
    elif command == "meta":
        meta = machine()
        for pair in args[1:]:
            key, value = pair.split("=", 1)
            meta[key] = int(value) if value.lstrip("-").isdigit() else value
        with open(args[0], "w") as f:
            json.dump(meta, f)
    else:
        sys.exit(f"tool.py: unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
