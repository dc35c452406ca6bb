import TrainyardQuota

/// Counts running jobs against a limit; waiters get free slots by weighted fair share among their
/// teams (`FairShareQueue`), in order within one team.
actor ConcurrencyLimiter {
    private let limit: Int
    private var inUse = 0
    private var queue = FairShareQueue<CheckedContinuation<Void, Never>>()

    init(limit: Int) { self.limit = max(1, limit) }

    /// Takes a slot for a job of `team`, waiting while all are taken; `weight` is the team's
    /// fair-share weight.
    func acquire(team: String, weight: Double = 1) async {
        if inUse < limit, queue.count == 0 {
            inUse += 1
            queue.started(team: team)
            return
        }
        await withCheckedContinuation { queue.enqueue($0, team: team, weight: weight) }
    }

    /// Takes a slot even past the limit: for work that already runs (an adopted job), which must
    /// be counted but must not wait behind new work.
    func acquireNow(team: String) {
        inUse += 1
        queue.started(team: team)
    }

    /// Frees a slot of `team`; waiters get slots only while the count is below the limit (after
    /// `acquireNow` it can be above it).
    func release(team: String) {
        inUse -= 1
        queue.finished(team: team)
        while inUse < limit, let next = queue.next() {
            inUse += 1
            next.waiter.resume()
        }
    }

    /// Slots taken now (for tests and metrics).
    var taken: Int { inUse }

    /// Callers waiting for a slot now (for tests).
    var waiting: Int { queue.count }
}
