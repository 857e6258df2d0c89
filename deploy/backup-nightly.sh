#!/bin/sh
# WarmGrid 暖网: one backup of the database, then only the newest KEEP backups are kept.
# Run by deploy/systemd/warmgrid-backup.service (or cron, see deploy/README.md), as the app's user.
#
#   WARMGRID_DB          the database file           (default /var/lib/warmgrid/warmgrid.duckdb)
#   WARMGRID_BACKUP_DIR  where the backups are kept  (default /var/backups/warmgrid)
#   WARMGRID_BACKUP_KEEP how many to keep            (default 14)
#   PYTHON               the Python that has WarmGrid's requirements (default python3)
#
# Each backup is warmgrid-YYYYMMDD-HHMMSS.wgbackup. It appears under that name only once it is
# complete (written as a hidden .part file, synced to disk, then renamed), so an interrupted run
# leaves no file that looks complete; .part files older than a day are removed here. Old backups
# are removed only after the new one succeeded. Exit status: that of the backup command.
set -eu

db=${WARMGRID_DB:-/var/lib/warmgrid/warmgrid.duckdb}
dir=${WARMGRID_BACKUP_DIR:-/var/backups/warmgrid}
keep=${WARMGRID_BACKUP_KEEP:-14}
python=${PYTHON:-python3}

case $keep in
    ''|*[!0-9]*|0) echo "WARMGRID_BACKUP_KEEP must be a whole number of at least 1, not '$keep'" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
mkdir -p "$dir"
out="$dir/warmgrid-$(date +%Y%m%d-%H%M%S).wgbackup"
"$python" -m grid backup --db "$db" --out "$out"

# The newest $keep complete backups stay (names sort by their time); older ones go.
ls -1 "$dir" | grep -E '^warmgrid-[0-9]{8}-[0-9]{6}\.wgbackup$' | sort -r | tail -n +"$((keep + 1))" |
    while read -r old; do rm -f -- "$dir/$old"; done
find "$dir" -maxdepth 1 -name '.warmgrid-*.part' -mmin +1440 -exec rm -rf -- {} + 2>/dev/null || true
echo "backup: $out (keeping the newest $keep in $dir)"
