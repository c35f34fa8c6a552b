"""Records through `process_record`: dead letters, duplicates, late records, silence."""

from __future__ import annotations

import json

from fleet.telemetry import encode_event
from fleet.vin import with_check_digit
from hot_path.events import AlertStatus, decode_alert, encode_alert
from hot_path.processing import process_record
from hot_path.rules_harsh import HarshState
from hot_path.state import decode_state, encode_state

from .readings import NOW, OTHER_VIN, VIN, Fleet, reading

THIRD_VIN = with_check_digit("WF3ABCDE0SA777777")

# A car's changelog record as the worker wrote it before its states became named tuples
# (commit c288c6e), after `changelog_history()`: open alerts (one clearing), tyre
# ratios, harsh-driving norms, an engine off since 250 s.
CHANGELOG_STATE = (
    b'{"vin":"WF1ABCDE4SA123456","partition":0,"last_time":1767600295.0,"last_seq":295,'
    b'"overheat":null,"oil":null,"fuel":null,"dtc":1767600000.0,'
    b'"battery":{"engine_off_since":1767600250.0,"since":null},'
    b'"tyres":{"ratios":[0.9970229305005485,1.0090226656214203,0.9912357581069238,'
    b'1.003161366372965],"learned_at":1767600295.0,"since":1767600205.0},'
    b'"harsh":{"accel_ref":1.1988005398560249,"accel_seen":30,"brake_ref":1.4985006748200316,'
    b'"brake_seen":30,"recent":0.0,"last_t":1767600295.0},'
    b'"alerts":{"dtc_active":{"alert_id":"WF1ABCDE4SA123456:dtc_active:1767600005000",'
    b'"opened_t":1767600005.0,"severity":"critical","clear_since":null},'
    b'"engine_overheat":{"alert_id":"WF1ABCDE4SA123456:engine_overheat:1767600030000",'
    b'"opened_t":1767600030.0,"severity":"warning","clear_since":1767600260.0},'
    b'"tyre_pressure_low":{"alert_id":"WF1ABCDE4SA123456:tyre_pressure_low:1767600235000",'
    b'"opened_t":1767600235.0,"severity":"warning","clear_since":null}}}'
)


def test_a_record_the_contract_refuses_becomes_a_dead_letter_with_its_origin() -> None:
    fleet = Fleet()
    raw = encode_event(reading(0)).replace(b'"Vehicle.Speed":50.0', b'"Vehicle.Speed":999.0')
    outcome = fleet.send(raw, key=VIN.encode())
    bad = outcome.dead_letter
    assert bad is not None and bad.value == raw and bad.key == VIN.encode()
    headers = {k: v.decode() for k, v in bad.headers}
    assert headers["reason"] == "out_of_range"
    assert headers["field"] == "Vehicle.Speed"
    assert headers["source"] == "hot-path"
    assert (headers["topic"], headers["partition"], headers["offset"]) == (
        "fleet.telemetry",
        "0",
        "0",
    )
    assert fleet.vehicles == {}
    for broken in (b"{not json", None):
        assert fleet.send(broken).dead_letter is not None
    # A time that has no UTC counterpart (year 1 at +01:00) raised OverflowError out of the
    # decoder: the worker stopped on it, and on it again after each restart.
    stamp = encode_event(reading(0)).split(b'"event_time":"')[1].split(b'"')[0]
    ancient = encode_event(reading(0)).replace(stamp, b"0001-01-01T00:00:00+01:00")
    letter = fleet.send(ancient).dead_letter
    assert letter is not None and dict(letter.headers)["reason"] == b"out_of_range"
    # The stream goes on.
    assert fleet.send(encode_event(reading(1))).dead_letter is None


def test_duplicates_and_late_records_neither_count_twice_nor_reopen() -> None:
    fleet = Fleet()
    hot = [reading(s, coolant_temp=115.0) for s in range(40)]
    fleet.feed(*hot, *hot)  # every record twice, the copies after the originals
    cool = [reading(s, coolant_temp=95.0) for s in range(40, 120)]
    fleet.feed(*cool)
    fleet.feed(*hot[35:])  # a late burst of old overheating readings
    fleet.feed(*cool[-3:])
    assert fleet.transitions() == [
        (VIN, "engine_overheat", "opened"),
        (VIN, "engine_overheat", "resolved"),
    ]
    assert fleet.send(encode_event(cool[-1])).duplicate


def test_one_open_alert_per_car_and_kind() -> None:
    fleet = Fleet()
    fleet.feed(*(reading(s, dtcs=("P0171",)) for s in range(600)))
    fleet.feed(*(reading(s, vin=OTHER_VIN, dtcs=("P0171",)) for s in range(600)))
    assert fleet.transitions() == [
        (VIN, "dtc_active", "opened"),
        (OTHER_VIN, "dtc_active", "opened"),
    ]


def test_a_car_that_stops_talking_is_silent_while_the_fleet_goes_on() -> None:
    fleet = Fleet()
    for s in range(400):
        fleet.feed(reading(s, vin=OTHER_VIN))
        if s < 100:
            fleet.feed(reading(s))
    assert fleet.transitions() == [(VIN, "vehicle_silent", "opened")]
    alert = fleet.alerts[0]
    # The evidence is the watermark (newest fleet time - 30 s lateness) at the first
    # check after it passed the car's last record (99 s) by the 90 s gap.
    assert reading(189).event_time <= alert.evidence_time <= reading(200).event_time
    assert alert.detail["silent_s"] >= 90
    assert alert.opened_at == alert.evidence_time
    fleet.feed(*(reading(s) for s in range(400, 470)))
    assert fleet.transitions()[-1] == (VIN, "vehicle_silent", "resolved")


def test_a_paused_fleet_flags_nobody() -> None:
    fleet = Fleet()
    for s in range(100):
        fleet.feed(reading(s), reading(s, vin=OTHER_VIN))
    # The simulator pauses for an hour of wall time, then goes on where it stopped.
    for s in range(100, 200):
        fleet.feed(reading(s), reading(s, vin=OTHER_VIN))
    assert fleet.alerts == []


def test_a_partition_catching_up_flags_nobody() -> None:
    # After a hand-over one partition's backlog is read while another is already ahead:
    # the car's later readings are unread, not missing, and the other clock is not its.
    fleet = Fleet()
    for s in range(100):
        fleet.feed(reading(s), partition=1)
        fleet.feed(reading(s, vin=OTHER_VIN), partition=0)
    for s in range(100, 400):
        fleet.feed(reading(s, vin=OTHER_VIN), partition=0)
    for s in range(100, 400):
        fleet.feed(reading(s), partition=1)
    assert fleet.alerts == []
    # Caught up, partition 1 is judged again: a car that then stops is flagged.
    for s in range(400, 600):
        fleet.feed(reading(s, vin=OTHER_VIN), partition=0)
        fleet.feed(reading(s, vin=THIRD_VIN), partition=1)
    assert fleet.transitions() == [(VIN, "vehicle_silent", "opened")]


def test_a_partition_read_behind_the_others_still_flags_its_silent_car() -> None:
    # A backlog read unevenly: partition 0 is read to the end before partition 1 starts.
    # Partition 1's own clock still shows VIN silent from 100 s to 400 s.
    fleet = Fleet()
    for s in range(600):
        fleet.feed(reading(s, vin=OTHER_VIN), partition=0)
    for s in range(600):
        fleet.feed(reading(s, vin=THIRD_VIN), partition=1)
        if s < 100 or s >= 400:
            fleet.feed(reading(s), partition=1)
    assert fleet.transitions() == [(VIN, "vehicle_silent", "opened"),
                                   (VIN, "vehicle_silent", "resolved")]  # fmt: skip
    assert reading(189).event_time <= fleet.alerts[0].evidence_time <= reading(200).event_time


def test_state_survives_the_changelog_encoding() -> None:
    fleet = Fleet()
    fleet.feed(*(reading(s, coolant_temp=115.0, dtcs=("P0300",)) for s in range(40)))
    state = fleet.vehicles[VIN]
    assert state.alerts  # overheat and the trouble code are open
    stored = encode_state(state)
    restored = decode_state(stored)
    assert restored == state
    # Faust's table reads the changelog back with its JSON serializer: the same state.
    assert decode_state(json.loads(stored)) == state
    assert encode_state(restored) == stored
    # A worker restored from the changelog carries on without re-opening.
    again = {VIN: restored}
    outcome = process_record(
        None, encode_event(reading(40, coolant_temp=115.0, dtcs=("P0300",))),
        topic="t", partition=0, offset=1, vehicles=again, watermarks={}, now=NOW,
        cfg=fleet.cfg,
    )  # fmt: skip
    assert outcome.alerts == []


def test_a_record_leaves_the_state_it_started_from_as_it_was() -> None:
    # The state flush takes a car's state by reference and writes it later, while the
    # agent goes on: a record must make a new state, never change the one it read.
    fleet = Fleet()
    fleet.feed(*(reading(s, coolant_temp=115.0) for s in range(0, 40, 5)))
    before = fleet.vehicles[VIN]
    written = encode_state(before)
    assert list(before.alerts) == ["engine_overheat"]
    fleet.feed(reading(40, coolant_temp=115.0, dtcs=("P0300",)), reading(45, dtcs=("P0300",)))
    fleet.feed(*(reading(s, coolant_temp=90.0, dtcs=("P0300",)) for s in range(50, 200, 5)))
    after = fleet.vehicles[VIN]
    assert "dtc_active" in after.alerts and "engine_overheat" not in after.alerts
    assert encode_state(before) == written
    assert list(before.alerts) == ["engine_overheat"]


def changelog_history(fleet: Fleet) -> None:
    for s in range(0, 300, 5):
        fleet.feed(reading(
            s, acceleration=1.2 if s % 10 else -1.5, coolant_temp=115.0 if s < 260 else 90.0,
            dtcs=("P0300",), tyre_front_left=240.0 - s / 10,
            engine_speed=0.0 if s >= 250 else 1500.0, speed=0.0 if s >= 250 else 50.0,
            battery_voltage=12.6 if s >= 250 else 14.1,
        ))  # fmt: skip


def test_a_changelog_written_by_the_earlier_worker_reads_back_and_is_written_alike() -> None:
    # Workers of both versions read each other's changelogs during an upgrade.
    restored = decode_state(CHANGELOG_STATE)
    assert encode_state(restored) == CHANGELOG_STATE
    assert sorted(restored.alerts) == ["dtc_active", "engine_overheat", "tyre_pressure_low"]
    fleet = Fleet()
    changelog_history(fleet)
    assert encode_state(fleet.vehicles[VIN]) == CHANGELOG_STATE
    # The restored car goes on: the overheat alert clears on, nothing opens again.
    again = {VIN: restored}
    outcome = process_record(
        None, encode_event(reading(300, coolant_temp=90.0, dtcs=("P0300",), engine_speed=0.0,
                                   speed=0.0, battery_voltage=12.6)),
        topic="t", partition=0, offset=1, vehicles=again, watermarks={}, now=NOW,
        cfg=fleet.cfg,
    )  # fmt: skip
    assert outcome.alerts == [] and sorted(again[VIN].alerts) == sorted(restored.alerts)


def test_a_state_from_before_the_harsh_rule_changed_restores_with_fresh_harsh_norms() -> None:
    fleet = Fleet()
    fleet.feed(*(reading(s, coolant_temp=115.0) for s in range(40)))
    state = fleet.vehicles[VIN]
    old = json.loads(encode_state(state))
    old["harsh"] = {"ref": 1.2, "launches": 3, "run_peak": None, "run_from_stop": False,
                    "run_hot": 0, "recent": 0.0, "last_t": 39.0}  # fmt: skip
    restored = decode_state(old)
    assert restored.harsh == HarshState()
    assert restored.alerts == state.alerts and restored.last_time == state.last_time


def test_alert_events_round_trip_as_json() -> None:
    fleet = Fleet()
    fleet.feed(*(reading(s, dtcs=("P0420",)) for s in range(10)))
    alert = fleet.alerts[0]
    assert decode_alert(encode_alert(alert)) == alert
    wire = json.loads(encode_alert(alert))
    assert wire["kind"] == "dtc_active" and wire["status"] == AlertStatus.OPENED
    assert wire["vin"] == VIN and wire["evidence_time"].endswith("Z")
