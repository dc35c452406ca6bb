/// Jobs waiting for a worker's slots, served by weighted fair share (docs/fair-share.md): a free
/// slot goes to the waiting team with the lowest (running + ½) / weight (the Sainte-Laguë
/// divisor, so running counts stay a proportional apportionment of the slots by weight among
/// teams with waiters); ties go to the team whose oldest waiter came first; one team's waiters
/// keep their order.
public struct FairShareQueue<Waiter: Sendable>: Sendable {
    private struct Entry: Sendable {
        var sequence: Int
        var waiter: Waiter
    }

    private var queues: [String: [Entry]] = [:]
    private var weights: [String: Double] = [:]
    /// Running jobs per team (teams with none are absent).
    private(set) public var running: [String: Int] = [:]
    private var sequence = 0

    public init() {}

    /// Waiters of all teams.
    public private(set) var count = 0

    /// Adds a waiter of `team` at the back of its team's queue; `weight` (above 0) is the team's
    /// fair-share weight now (the last one given counts, so a reload applies at once).
    public mutating func enqueue(_ waiter: Waiter, team: String, weight: Double) {
        queues[team, default: []].append(Entry(sequence: sequence, waiter: waiter))
        weights[team] = weight > 0 ? weight : 1
        sequence += 1
        count += 1
    }

    /// Removes the next waiter by fair share and counts it as running for its team.
    public mutating func next() -> (team: String, waiter: Waiter)? {
        var best: (team: String, share: Double, sequence: Int)?
        for (team, entries) in queues {
            guard let head = entries.first else { continue }
            let share = (Double(running[team] ?? 0) + 0.5) / (weights[team] ?? 1)
            if let current = best, (current.share, current.sequence) <= (share, head.sequence) { continue }
            best = (team, share, head.sequence)
        }
        guard let team = best?.team, let entry = queues[team]?.first else { return nil }
        queues[team]?.removeFirst()
        if queues[team]?.isEmpty == true {
            queues[team] = nil
            weights[team] = nil
        }
        count -= 1
        started(team: team)
        return (team, entry.waiter)
    }

    /// Counts one more running job of `team` that did not wait (an adopted job).
    public mutating func started(team: String) {
        running[team, default: 0] += 1
    }

    /// Counts one running job of `team` less.
    public mutating func finished(team: String) {
        let left = (running[team] ?? 0) - 1
        running[team] = left > 0 ? left : nil
    }
}
