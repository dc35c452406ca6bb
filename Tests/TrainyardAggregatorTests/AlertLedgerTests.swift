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
}
