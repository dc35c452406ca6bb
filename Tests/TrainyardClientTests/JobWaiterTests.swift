import Testing
import TrainyardClient
import TrainyardCore
import TrainyardTesting

/// `trainyard submit --wait`'s waiting on a manual clock: the timeout and the elapsed times it
/// prints do not depend on how long the test takes.
@Suite("Job waiter")
struct JobWaiterTests {
    /// What the waiter wrote.
    final class Output {
        var text = ""
    }

    @Test("gives up once more than the timeout has passed on its clock, not before")
    func timeout() async throws {
        let clock = ManualClock()
        let waiter = JobWaiter(timeout: .seconds(60), live: false, clock: clock, write: { _ in }) { _ in
            JobProgressLine(state: .running, detail: "")
        }
        let advancer = Task {
            try #require(try await eventually(timeout: .seconds(120)) { clock.sleeperCount == 1 })
            clock.advance(by: .seconds(60))
            try #require(try await eventually(timeout: .seconds(120)) { clock.sleeperCount == 1 }, "gave up at exactly the timeout")
            clock.advance(by: .milliseconds(250))
        }
        let final = try await waiter.wait(for: [(JobID.generate(), "forever")])
        try await advancer.value
        #expect(final == nil)
    }

    @Test("a plain line per state change, with the time elapsed on its clock; the final states when every job is terminal")
    func plainLines() async throws {
        let clock = ManualClock()
        let output = Output()
        let job = JobID.generate()
        let waiter = JobWaiter(timeout: .seconds(3600), live: false, clock: clock, write: { output.text += $0 }) { _ in
            clock.now.offset < .seconds(90)
                ? JobProgressLine(state: .running, detail: "")
                : JobProgressLine(state: .failed, reason: "out of memory", exitCode: 137)
        }
        let advancer = Task {
            try #require(try await eventually(timeout: .seconds(120)) { clock.sleeperCount == 1 })
            clock.advance(by: .seconds(125))
        }
        let final = try await waiter.wait(for: [(job, "train")])
        try await advancer.value
        #expect(final == [job: .failed])
        #expect(output.text == "\(job)  train  RUNNING  0.0s\n\(job)  train  FAILED  2m05s  out of memory, exit 137\n")
    }
}
