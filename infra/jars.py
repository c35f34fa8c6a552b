"""Java and the Kafka jars: found or fetched, or a clear word on what to do."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from infra.config import PACKAGE_DIR, InfraSettings
from infra.errors import InfraError

log = logging.getLogger(__name__)

POM = PACKAGE_DIR / "pom.xml"
MIN_JAVA = 17
_STAMP = ".resolved-from"


def kafka_version(pom: Path = POM) -> str:
    """The Kafka version the POM pins."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", ns)
    if node is None or not node.text:
        raise InfraError(f"{pom} does not set kafka.version", "restore infra/pom.xml from git")
    return node.text.strip()


def find_java(settings: InfraSettings) -> Path:
    """A Java 17+ executable, from INFRA_JAVA_HOME, JAVA_HOME or PATH."""
    homes = [settings.java_home, settings.java_home_env]
    candidates = [Path(h) / "bin" / "java" for h in homes if h]
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path))
    next_step = (
        "install Java 17 (Debian: apt-get install -y openjdk-17-jre-headless) "
        "or point JAVA_HOME at one"
    )
    for java in candidates:
        if not java.exists():
            continue
        version = java_major_version(java)
        if version >= MIN_JAVA:
            return java
        log.warning("%s is Java %d; Kafka 4 needs %d or newer", java, version, MIN_JAVA)
    raise InfraError(f"no Java {MIN_JAVA} or newer found to run Kafka", next_step)


def java_major_version(java: Path) -> int:
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except OSError:
        return 0
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return 0
    major = int(match.group(1))
    # Java 8 and older say "1.8"
    return int(match.group(2) or 0) if major == 1 else major


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def jars_ready(settings: InfraSettings, pom: Path = POM) -> bool:
    stamp = settings.kafka_libs_dir / _STAMP
    return stamp.exists() and stamp.read_text().strip() == _pom_digest(pom)


def resolve_jars(settings: InfraSettings, pom: Path = POM) -> Path:
    """Copy Kafka and its runtime dependencies into the libs cache; a no-op when current."""
    libs = settings.kafka_libs_dir
    if jars_ready(settings, pom):
        return libs
    maven = shutil.which(settings.maven)
    if not maven:
        raise InfraError(
            f"Maven ({settings.maven}) is needed once to fetch the Kafka jars and was not found",
            "install it (Debian: apt-get install -y maven) and run `make setup` again",
        )
    staging = libs.with_name(libs.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    log.info("resolving Kafka %s from Maven Central into %s", kafka_version(pom), libs)
    cmd = [
        maven, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=settings.maven_timeout_s
        )
    except subprocess.TimeoutExpired:
        raise InfraError(
            f"Maven did not finish resolving the Kafka jars within {settings.maven_timeout_s:.0f}s",
            "check the network to Maven Central, then run `make setup` again",
        ) from None
    if proc.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise InfraError(
            "Maven could not resolve the Kafka jars",
            "check that Maven Central is reachable (proxy settings in ~/.m2/settings.xml), "
            "then run `make setup` again",
            details=tail,
        )
    (staging / _STAMP).write_text(_pom_digest(pom) + "\n")
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    return libs
