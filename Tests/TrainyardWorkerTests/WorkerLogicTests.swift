import Testing
import TrainyardCore

@testable import TrainyardWorker

/// The worker's pure pieces: commit positions, retry decisions, the concurrency limiter.
@Suite("Worker logic")
struct WorkerLogicTests {
    @Test("the committable position is the oldest pending offset, or the next one when nothing is pending")
    func partitionProgress() {
        var progress = PartitionProgress()
        #expect(progress.committablePosition == nil)
        for offset in Int64(10)...14 { progress.read(offset) }
        #expect(progress.committablePosition == 10)
        progress.done(11)
        progress.done(13)
        #expect(progress.committablePosition == 10, "a later job finishing does not move the position past an earlier one")
        progress.done(10)
        #expect(progress.committablePosition == 12)
        progress.done(12)
        progress.done(14)
        #expect(progress.committablePosition == 15)
        #expect(progress.pendingCount == 0)
    }

    @Test(
        "retries: infrastructure by default, user errors only when asked, never past maxAttempts or for other states",
        arguments: [
            (JobState.failed, FailureClass.infrastructure, 1, false, true),
            (.failed, .infrastructure, 3, false, false),
            (.failed, .userError, 1, false, false),
            (.failed, .userError, 1, true, true),
            (.failed, .invalidRequest, 1, true, false),
            (.timedOut, .userError, 1, true, false),
            (.cancelled, nil, 1, true, false),
            (.succeeded, nil, 1, true, false),
        ] as [(JobState, FailureClass?, Int, Bool, Bool)])
    func retryDecision(state: JobState, failureClass: FailureClass?, attempt: Int, retryOnUserError: Bool, expected: Bool) {
        let policy = RetryPolicy(maxAttempts: 3, backoffSeconds: 2, retryOnUserError: retryOnUserError)
        #expect(RetryPolicyDecision.shouldRetry(state: state, failureClass: failureClass, attempt: attempt, policy: policy) == expected)
    }

    @Test("backoff is exponential with full jitter and capped")
    func backoff() {
        let policy = RetryPolicy(maxAttempts: 10, backoffSeconds: 2)
        #expect(RetryPolicyDecision.backoff(afterAttempt: 1, policy: policy, random: 1) == .seconds(2))
        #expect(RetryPolicyDecision.backoff(afterAttempt: 3, policy: policy, random: 1) == .seconds(8))
        #expect(RetryPolicyDecision.backoff(afterAttempt: 3, policy: policy, random: 0.5) == .seconds(4))
        #expect(RetryPolicyDecision.backoff(afterAttempt: 3, policy: policy, random: 0) == .zero)
        #expect(RetryPolicyDecision.backoff(afterAttempt: 20, policy: policy, random: 1) == .seconds(600))
    }

    @Test("the limiter never lets waiters past the limit, even after slots taken at once for adopted jobs")
    func limiter() async {
        let limiter = ConcurrencyLimiter(limit: 2)
        await limiter.acquire(team: "a")
        await limiter.acquire(team: "a")
        // Two adopted jobs push the count over the limit.
        await limiter.acquireNow(team: "a")
        await limiter.acquireNow(team: "a")
        #expect(await limiter.taken == 4)
        let waiter = Task { await limiter.acquire(team: "a") }
        // The waiter must be queued before the releases, or the test would not exercise them.
        let deadline = ContinuousClock.now + .seconds(120)
        while await limiter.waiting == 0, ContinuousClock.now < deadline { await Task.yield() }
        #expect(await limiter.waiting == 1)
        await limiter.release(team: "a")
        await limiter.release(team: "a")
        #expect(await limiter.taken == 2, "releases above the limit go to nobody")
        await limiter.release(team: "a")
        await waiter.value
        #expect(await limiter.waiting == 0)
        #expect(await limiter.taken == 2, "a release below the limit goes to the waiter")
    }

    @Test("the requests consumer holds an empty fetch for the worker's fetch wait unless the Kafka properties set one")
    func fetchWait() {
        let defaulted = WorkerConfiguration(fetchWaitMilliseconds: 25)
        #expect(defaulted.consumerKafka.properties["fetch.wait.max.ms"] == "25")
        #expect(defaulted.kafka.properties["fetch.wait.max.ms"] == nil, "the producer's settings are left alone")
        var kafka = defaulted.kafka
        kafka.properties["fetch.wait.max.ms"] = "300"
        let overridden = WorkerConfiguration(kafka: kafka, fetchWaitMilliseconds: 25)
        #expect(overridden.consumerKafka.properties["fetch.wait.max.ms"] == "300")
    }
}
