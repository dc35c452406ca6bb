import Foundation
import TrainyardCore

/// The cost one attempt reported on its terminal event, as `attempt_costs` keeps it.
///
/// Money is kept in whole millionths of a USD, so sums are exact and do not depend on the order
/// rows are added in. Two reports for one attempt (a re-emitted terminal event, or two sources)
/// merge with `merging`, a join: the result does not depend on their order or duplication.
struct AttemptCost: Equatable {
    var attempt: Int
    /// USD × 1,000,000, rounded.
    var costMicros: Int64
    /// Billed seconds × 1000, rounded.
    var billedMillis: Int64
    var isEstimate: Bool
    /// The backend that ran the attempt (`unknown` when the event did not say).
    var backend: String
    /// When the attempt ended: the terminal event's time, in seconds since 1970 at the wire's millisecond precision.
    var endedAt: Double

    /// The cost a terminal event carries; nil for events without one.
    init?(_ event: LifecycleEvent) {
        guard event.state.isTerminal, let usd = event.costUSD, usd.isFinite, usd >= 0 else { return nil }
        attempt = event.attempt
        costMicros = Int64((usd * 1_000_000).rounded())
        billedMillis = Int64(((event.billedSeconds ?? 0).isFinite ? max(0, event.billedSeconds ?? 0) * 1000 : 0).rounded())
        isEstimate = event.costIsEstimate == true
        backend = event.backend ?? "unknown"
        endedAt = Double(WireFormat.milliseconds(event.occurredAt)) / 1000
    }

    init(attempt: Int, costMicros: Int64, billedMillis: Int64, isEstimate: Bool, backend: String, endedAt: Double) {
        self.attempt = attempt
        self.costMicros = costMicros
        self.billedMillis = billedMillis
        self.isEstimate = isEstimate
        self.backend = backend
        self.endedAt = endedAt
    }

    /// The report with the longer billed time wins (then the larger cost, then a measured one over
    /// an estimate, then a fixed order on the rest), so every order of the same reports agrees.
    func merging(_ other: AttemptCost) -> AttemptCost {
        func key(_ cost: AttemptCost) -> (Int64, Int64, Int, Double, String) {
            (cost.billedMillis, cost.costMicros, cost.isEstimate ? 0 : 1, cost.endedAt, cost.backend)
        }
        return key(other) > key(self) ? other : self
    }

    static func usd(micros: Int64) -> Double { Double(micros) / 1_000_000 }
}

/// A job's attempt costs while a batch is folded: read with the job, merged in memory, written once.
struct AttemptCosts {
    private(set) var byAttempt: [Int: AttemptCost] = [:]
    private var changed: Set<Int> = []

    /// The job's total in millionths of a USD; nil while no attempt reported a cost.
    var totalMicros: Int64? { byAttempt.isEmpty ? nil : byAttempt.values.reduce(0) { $0 + $1.costMicros } }

    /// Folds the cost `event` carries, if any.
    mutating func merge(_ event: LifecycleEvent) {
        guard let cost = AttemptCost(event) else { return }
        let merged = byAttempt[cost.attempt].map { $0.merging(cost) } ?? cost
        guard merged != byAttempt[cost.attempt] else { return }
        byAttempt[cost.attempt] = merged
        changed.insert(cost.attempt)
    }

    static func load(_ jobID: JobID, _ connection: inout SQLiteConnection) throws -> AttemptCosts {
        var costs = AttemptCosts()
        for row in try connection.query(
            "SELECT attempt, cost_micros, billed_millis, is_estimate, backend, ended_at FROM attempt_costs WHERE job_id = ?", [.text(jobID.rawValue)])
        {
            let cost = AttemptCost(
                attempt: Int(row["attempt"].int ?? 0), costMicros: row["cost_micros"].int ?? 0, billedMillis: row["billed_millis"].int ?? 0,
                isEstimate: row["is_estimate"].int == 1, backend: row["backend"].string ?? "unknown", endedAt: row["ended_at"].double ?? 0)
            costs.byAttempt[cost.attempt] = cost
        }
        return costs
    }

    /// Writes the attempts whose cost changed in this batch.
    func save(_ jobID: JobID, _ connection: inout SQLiteConnection) throws {
        for attempt in changed.sorted() {
            let cost = byAttempt[attempt]!
            try connection.query(
                """
                INSERT INTO attempt_costs (job_id, attempt, cost_micros, billed_millis, is_estimate, backend, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (job_id, attempt) DO UPDATE SET cost_micros = excluded.cost_micros, billed_millis = excluded.billed_millis,
                    is_estimate = excluded.is_estimate, backend = excluded.backend, ended_at = excluded.ended_at
                """,
                [
                    .text(jobID.rawValue), .integer(Int64(attempt)), .integer(cost.costMicros), .integer(cost.billedMillis),
                    .integer(cost.isEstimate ? 1 : 0), .text(cost.backend), .real(cost.endedAt),
                ])
        }
    }
}
