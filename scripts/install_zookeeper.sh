#!/bin/sh
# Installs a ZooKeeper server that src/testing/ (startZooKeeper) can start, unless one is there.
# Idempotent: does nothing when Debian's package, $ZOOKEEPER_HOME or zkServer.sh on PATH exists.
set -eu

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  echo "A Docker engine runs: the tests start ZooKeeper in a container"
  exit 0
fi
if [ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null 2>&1; then
  echo "ZooKeeper already installed (/usr/share/java/zookeeper.jar)"
  exit 0
fi
if [ -n "${ZOOKEEPER_HOME:-}" ] && [ -d "${ZOOKEEPER_HOME}" ] && command -v java >/dev/null 2>&1; then
  echo "ZooKeeper already installed (ZOOKEEPER_HOME=${ZOOKEEPER_HOME})"
  exit 0
fi
if command -v zkServer.sh >/dev/null 2>&1; then
  echo "ZooKeeper already installed ($(command -v zkServer.sh))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "Run as root (or install sudo): apt-get install -y zookeeper" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "No apt-get here: install Apache ZooKeeper and set ZOOKEEPER_HOME, or start Docker" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends zookeeper
echo "ZooKeeper installed: /usr/share/java/zookeeper.jar"
