import Foundation
import Testing
import TrainyardCore
import TrainyardStore
import TrainyardTesting

/// The store's firing set: an alert fires once and resolves once, across reopening the store.
@Suite struct AlertLedgerTests {
    func alert(_ id: String, at seconds: Double) -> AlertMessage {
        AlertMessage(
            alertID: id, rule: .jobStuck, severity: .critical, team: "ranking", summary: "stuck \(id)", firedAt: Date(timeIntervalSince1970: seconds))
    }

    @Test func firesOnceResolvesOnceAndSurvivesARestart() throws {
        let path = try TestEnvironment.temporaryDirectory("ledger").appendingPathComponent("store.db").path
        var store = try JobStore(path: path)
        let first = try store.updateAlerts(active: [alert("a", at: 10), alert("b", at: 10)], now: Date(timeIntervalSince1970: 10))
        #expect(first.map(\.alertID) == ["a", "b"] && first.allSatisfy { $0.status == .firing })
        #expect(try store.updateAlerts(active: [alert("a", at: 20), alert("b", at: 20)], now: Date(timeIntervalSince1970: 20)).isEmpty)

        store = try JobStore(path: path)  // an aggregator restart
        #expect(try store.firingAlerts().map(\.firedAt) == [Date(timeIntervalSince1970: 10), Date(timeIntervalSince1970: 10)])
        let resolved = try store.updateAlerts(active: [alert("a", at: 30)], now: Date(timeIntervalSince1970: 30))
        #expect(resolved.count == 1)
        #expect(resolved.first?.alertID == "b" && resolved.first?.status == .resolved)
        #expect(resolved.first?.resolvedAt == Date(timeIntervalSince1970: 30) && resolved.first?.firedAt == Date(timeIntervalSince1970: 10))
        #expect(try store.updateAlerts(active: [alert("a", at: 40)], now: Date(timeIntervalSince1970: 40)).isEmpty)

        let outbox = try store.pendingAlertNotifications(limit: 10)
        #expect(outbox.map { "\($0.alert.alertID) \($0.alert.status.rawValue)" } == ["a firing", "b firing", "b resolved"])
        for entry in outbox { try store.deleteAlertNotification(entry.sequence) }
        #expect(try store.pendingAlertNotifications(limit: 10).isEmpty)
    }

    @Test("alert subjects: jobs in flight and jobs finished in the window, with max runtime and the last observation (heartbeats count, not history)")
    func subjectsAndHeartbeats() throws {
        let path = try TestEnvironment.temporaryDirectory("subjects").appendingPathComponent("store.db").path
        let store = try JobStore(path: path)
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        let (running, recent, old) = (JobID.generate(), JobID.generate(), JobID.generate())
        func submit(_ id: JobID, _ maxRuntime: Int) -> IngestRecord {
            .submitted(
                SubmitCommand(
                    jobID: id, spec: JobSpec(name: "j", team: "t", command: ["true"], maxRuntimeSeconds: maxRuntime), submittedAt: start))
        }
        func event(_ id: JobID, _ state: JobState, _ seconds: Double, observed: Double? = nil) -> IngestRecord {
            .event(
                LifecycleEvent(
                    jobID: id, attempt: 1, state: state, source: .backend, occurredAt: start.addingTimeInterval(seconds), team: "t",
                    observedAt: observed.map { start.addingTimeInterval($0) }))
        }
        let records: [IngestRecord] = [
            submit(running, 120), event(running, .running, 5), event(running, .running, 5, observed: 65), event(running, .running, 5, observed: 125),
            submit(recent, 60), event(recent, .succeeded, 900), submit(old, 60), event(old, .failed, 100),
        ]
        try store.apply(
            records.enumerated().map {
                IngestMessage(position: MessagePosition(topic: "e", partition: 0, offset: Int64($0.offset)), record: $0.element)
            })
        let subjects = Dictionary(
            uniqueKeysWithValues: try store.alertSubjects(finishedSince: start.addingTimeInterval(500)).map { ($0.record.jobID, $0) })
        #expect(Set(subjects.keys) == [running, recent])
        #expect(subjects[running]?.maxRuntimeSeconds == 120)
        #expect(subjects[running]?.lastObservedAt == start.addingTimeInterval(125))
        #expect(subjects[recent]?.lastObservedAt == start.addingTimeInterval(900))
        // The submit's QUEUED and the RUNNING report; the two heartbeats left no trace in the history.
        #expect(try store.events(of: running).map { $0.event.state } == [.queued, .running])
    }
}
