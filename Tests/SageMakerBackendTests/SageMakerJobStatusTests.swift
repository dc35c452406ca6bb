import Foundation
import Testing
import TrainyardAWS
import TrainyardBackends
import TrainyardCore
import TrainyardTesting

@testable import SageMakerBackend

@Suite struct SageMakerJobStatusTests {
    func status(_ document: JSONValue) -> SageMakerJobStatus { SageMakerJobStatus(kind: .training, document: document)! }

    @Test func primaryStatusDecidesTheObservation() {
        #expect(
            status(["TrainingJobStatus": "InProgress", "SecondaryStatus": "Starting"]).observation
                == .pending(reason: "SageMaker: InProgress / Starting"))
        #expect(
            status(["TrainingJobStatus": "InProgress", "SecondaryStatus": "Training", "TrainingStartTime": 1_700_000_000]).observation
                == .running(since: Date(timeIntervalSince1970: 1_700_000_000)))
        guard case .finished(let done) = status(["TrainingJobStatus": "Completed", "TrainingEndTime": 1_700_000_100]).observation else {
            Issue.record("Completed is finished")
            return
        }
        #expect(done.state == .succeeded && done.finishedAt == Date(timeIntervalSince1970: 1_700_000_100))
        guard case .finished(let failed) = status(["TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: exit 3"]).observation else {
            Issue.record("Failed is finished")
            return
        }
        #expect(failed.state == .failed && failed.failureClass == .userError && failed.reason == "AlgorithmError: exit 3")
        guard case .finished(let timedOut) = status(["TrainingJobStatus": "Stopped", "SecondaryStatus": "MaxRuntimeExceeded"]).observation,
            case .finished(let stopped) = status(["TrainingJobStatus": "Stopped", "SecondaryStatus": "Stopped"]).observation
        else {
            Issue.record("Stopped is finished")
            return
        }
        #expect(timedOut.state == .timedOut && stopped.state == .cancelled)
    }

    @Test func failureReasonsMapToFailureClasses() {
        #expect(SageMakerJobStatus.failureClass("AlgorithmError: boom") == .userError)
        #expect(SageMakerJobStatus.failureClass("ClientError: bad channel") == .userError)
        #expect(SageMakerJobStatus.failureClass("CapacityError: no ml.p3.2xlarge") == .infrastructure)
        #expect(SageMakerJobStatus.failureClass("InternalServerError: oops") == .infrastructure)
        #expect(SageMakerJobStatus.failureClass("Something new") == .userError)
        #expect(SageMakerJobStatus.failureClass(nil) == .userError)
    }

    @Test func eventsCarryMillisecondsAndOtherMessagesAreIgnored() {
        let body =
            #"{"source":"aws.sagemaker","detail-type":"SageMaker Training Job State Change","detail":{"TrainingJobName":"ty-x-a1","TrainingJobStatus":"InProgress","SecondaryStatus":"Training","TrainingStartTime":1700000000000}}"#
        let event = SageMakerStateEvent(body: Array(body.utf8))
        #expect(event?.name == "ty-x-a1")
        #expect(event?.status.startedAt == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(SageMakerStateEvent(body: Array(body.replacingOccurrences(of: "ty-x-a1", with: "someone-else").utf8)) == nil)
        #expect(SageMakerStateEvent(body: Array(body.replacingOccurrences(of: "aws.sagemaker", with: "aws.ec2").utf8)) == nil)
        #expect(SageMakerStateEvent(body: Array("not json".utf8)) == nil)
    }

    @Test func theCacheOnlyMovesForwardAndHandsBackReceiptsAfterTheNextObserve() async {
        let cache = SageMakerStateCache(clock: ManualClock())
        let completed = status(["TrainingJobStatus": "Completed"])
        let running = status(["TrainingJobStatus": "InProgress", "TrainingStartTime": 1])
        await cache.track("ty-x-a1", kind: .training)
        #expect(await cache.record("ty-x-a1", running, receipt: "r1"))
        #expect(await cache.record("ty-x-a1", completed, receipt: "r2"))
        #expect(await cache.record("ty-x-a1", running, receipt: "r3") == false, "a stale event does not undo Completed")
        #expect(await cache.record("ty-x-a1", completed, receipt: "r4") == false, "a duplicate changes nothing")
        let first = await cache.observe("ty-x-a1")
        #expect(first.status?.status == "Completed")
        #expect(first.receiptsToDelete.isEmpty, "nothing is deleted before the worker had the state")
        let second = await cache.observe("ty-x-a1")
        #expect(second.receiptsToDelete == ["r1", "r2", "r3", "r4"])
        #expect(await cache.observe("ty-x-a1").receiptsToDelete.isEmpty)
        #expect(await cache.due(olderThan: .zero).isEmpty, "finished jobs need no reconciliation")
    }
}

/// Receipt expiry and reconciliation ages on a manual clock: the grace periods are the test's
/// to cross, not the machine's.
@Suite struct SageMakerReceiptExpiryTests {
    @Test func receiptsOfJobsNobodyObservesAnyMoreExpire() async throws {
        let clock = ManualClock()
        let cache = SageMakerStateCache(receiptGrace: .seconds(30), clock: clock)
        let completed = SageMakerJobStatus(kind: .training, status: "Completed")
        await cache.track("ty-x-a1", kind: .training)
        await cache.record("ty-x-a1", completed, receipt: "final")
        _ = await cache.observe("ty-x-a1")  // the worker got the final state and stops observing
        await cache.record("ty-x-a1", completed, receipt: "late-duplicate")
        clock.advance(by: .seconds(29))
        #expect(await cache.expiredReceipts().isEmpty, "nothing expires within the grace period")
        clock.advance(by: .seconds(1))
        #expect(Set(await cache.expiredReceipts()) == ["final", "late-duplicate"])
        #expect(await cache.expiredReceipts().isEmpty)
    }

    @Test func aShownReceiptExpiresAfterTheGraceEvenIfTheJobIsStillObserved() async {
        let clock = ManualClock()
        let cache = SageMakerStateCache(receiptGrace: .seconds(30), clock: clock)
        await cache.track("ty-x-a1", kind: .training)
        await cache.record("ty-x-a1", SageMakerJobStatus(kind: .training, status: "InProgress"), receipt: "r1")
        _ = await cache.observe("ty-x-a1")  // r1 shown
        clock.advance(by: .seconds(20))
        #expect(await cache.observe("ty-x-a1").receiptsToDelete == ["r1"], "handed back at the next observe")
        await cache.record("ty-x-a1", SageMakerJobStatus(kind: .training, status: "InProgress"), receipt: "r2")
        _ = await cache.observe("ty-x-a1")  // r2 shown at 20 s
        clock.advance(by: .seconds(29))
        #expect(await cache.expiredReceipts().isEmpty)
        clock.advance(by: .seconds(1))
        #expect(await cache.expiredReceipts() == ["r2"])
    }

    @Test func trackedJobsAreDueForADescribeOnlyOnceTheirStateIsOldEnough() async {
        let clock = ManualClock()
        let cache = SageMakerStateCache(clock: clock)
        await cache.track("ty-x-a1", kind: .training)
        await cache.record("ty-x-a1", SageMakerJobStatus(kind: .training, status: "InProgress"))
        clock.advance(by: .seconds(59))
        #expect(await cache.due(olderThan: .seconds(60)).isEmpty)
        clock.advance(by: .seconds(1))
        #expect(await cache.due(olderThan: .seconds(60)).map(\.name) == ["ty-x-a1"])
        await cache.record("ty-x-a1", SageMakerJobStatus(kind: .training, status: "InProgress"))
        #expect(await cache.due(olderThan: .seconds(60)).isEmpty, "a Describe or an event refreshes the state")
    }
}
