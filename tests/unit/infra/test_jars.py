"""Finding Java and the Kafka jars, and saying what to do when they are missing."""

from __future__ import annotations

import stat

import pytest

from infra.config import InfraSettings
from infra.errors import InfraError
from infra.jars import find_java, jars_ready, java_major_version, kafka_version, resolve_jars


def fake_java(tmp_path, version_line: str):
    home = tmp_path / f"jdk-{abs(hash(version_line))}"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return home, java


@pytest.mark.parametrize(
    ("line", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_402"', 8),
        ('openjdk version "11.0.22" 2024-01-16', 11),
    ],
)
def test_java_versions_are_read_from_java_version(tmp_path, line, major):
    _, java = fake_java(tmp_path, line)
    assert java_major_version(java) == major


def test_an_old_java_is_not_enough(tmp_path, monkeypatch):
    home, _ = fake_java(tmp_path, 'openjdk version "11.0.22" 2024-01-16')
    monkeypatch.setenv("JAVA_HOME", str(home))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(InfraError) as caught:
        find_java(InfraSettings())
    assert "Java 17" in caught.value.cause
    assert "openjdk-17-jre-headless" in caught.value.next_step


def test_infra_java_home_wins(tmp_path, monkeypatch):
    home, java = fake_java(tmp_path, 'openjdk version "17.0.1" 2021-10-19')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    assert find_java(InfraSettings(java_home=home)) == java


def test_the_pom_pins_a_kafka_4_release():
    assert kafka_version().split(".")[0] == "4"


def test_jars_are_current_only_for_the_pom_they_came_from(tmp_path):
    settings = InfraSettings(kafka_libs_dir=tmp_path / "libs", maven="definitely-not-mvn")
    assert not jars_ready(settings)
    with pytest.raises(InfraError) as caught:
        resolve_jars(settings)
    assert "apt-get install -y maven" in caught.value.next_step

    pom = tmp_path / "pom.xml"
    pom.write_text("<project/>")
    (tmp_path / "libs").mkdir()
    from infra.jars import _pom_digest

    (tmp_path / "libs" / ".resolved-from").write_text(_pom_digest(pom))
    assert jars_ready(settings, pom)
    assert resolve_jars(settings, pom) == tmp_path / "libs"  # current: Maven is not called
    pom.write_text("<project><!-- changed --></project>")
    assert not jars_ready(settings, pom)
