/// Counts running jobs against a limit; waiters queue in order.
actor ConcurrencyLimiter {
    private let limit: Int
    private var inUse = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = max(1, limit) }

    func acquire() async {
        if inUse < limit {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    /// Takes a slot even past the limit: for work that already runs (an adopted job), which must
    /// be counted but must not wait behind new work.
    func acquireNow() {
        inUse += 1
    }

    /// Frees a slot; waiters get slots only while the count is below the limit (after
    /// `acquireNow` it can be above it).
    func release() {
        inUse -= 1
        while inUse < limit, !waiters.isEmpty {
            inUse += 1
            waiters.removeFirst().resume()
        }
    }

    /// Slots taken now (for tests and metrics).
    var taken: Int { inUse }
}
