#!/usr/bin/env bash
# Installs the Debian packages the platform needs, only when something is missing.
set -euo pipefail

need=()
java_ok() {
    command -v java >/dev/null &&
        java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])'
}
# default-jre-headless is 17 on Debian 12 and 21 on Debian 13; Kafka 4 and Spark 4 run on both.
java_ok || need+=(default-jre-headless)
command -v mvn >/dev/null || need+=(maven)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
# The MQTT ingest path: Mosquitto (in /usr/sbin, often not on a user's PATH) and its
# command-line clients, handy to publish a record by hand.
{ command -v mosquitto || [ -x /usr/sbin/mosquitto ]; } >/dev/null || need+=(mosquitto)
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
# The dashboard's browser test drives Debian's headless Chromium through its own driver
# (matching versions; nothing is downloaded at test time).
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
# The serving layer's tests also run on a real PostgreSQL, started by the tests themselves.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)

if ((${#need[@]} == 0)); then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "missing: ${need[*]}; install them with your system's package manager" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
