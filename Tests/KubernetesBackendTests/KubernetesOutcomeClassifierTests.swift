import Foundation
import Testing
import TrainyardBackends
import TrainyardCore
import TrainyardKubernetes

@testable import KubernetesBackend

/// The classifier alone: every outcome the watcher scripts got wrong, and the pending states.
@Suite("Kubernetes outcome classification")
struct KubernetesOutcomeClassifierTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func job(_ conditions: [KubernetesJob.Condition] = []) -> KubernetesJob {
        var job = KubernetesJob(
            metadata: KubernetesObjectMeta(name: "ty-x-a1"),
            spec: KubernetesJob.Spec(
                backoffLimit: 0, activeDeadlineSeconds: 600, ttlSecondsAfterFinished: nil, podFailurePolicy: nil,
                template: KubernetesPodTemplate(metadata: nil, spec: KubernetesPodSpec(restartPolicy: "Never", containers: []))))
        job.status = KubernetesJob.Status(conditions: conditions)
        return job
    }

    func pod(
        phase: String = "Running", reason: String? = nil, conditions: [KubernetesPod.Condition] = [], deleting: Bool = false,
        _ containers: [String: KubernetesPod.ContainerState]
    ) -> KubernetesPod {
        var metadata = KubernetesObjectMeta(name: "ty-x-a1-abcde")
        metadata.creationTimestamp = "2027-01-15T08:00:00Z"
        if deleting { metadata.deletionTimestamp = "2027-01-15T08:10:00Z" }
        return KubernetesPod(
            metadata: metadata,
            status: KubernetesPod.Status(
                phase: phase, reason: reason, conditions: conditions,
                containerStatuses: containers.sorted { $0.key < $1.key }.map { KubernetesPod.ContainerStatus(name: $0.key, state: $0.value) }))
    }

    func terminated(_ code: Int32, _ reason: String? = nil) -> KubernetesPod.ContainerState {
        KubernetesPod.ContainerState(
            terminated: KubernetesPod.Terminated(
                exitCode: code, reason: reason, startedAt: "2027-01-15T08:00:05Z", finishedAt: "2027-01-15T08:05:00Z"))
    }

    let running = KubernetesPod.ContainerState(running: KubernetesPod.Running(startedAt: "2027-01-15T08:00:05Z"))

    func waiting(_ reason: String) -> KubernetesPod.ContainerState {
        KubernetesPod.ContainerState(waiting: KubernetesPod.Waiting(reason: reason, message: "details"))
    }

    func classify(_ snapshot: KubernetesAttemptSnapshot, grace: Duration = .seconds(60)) -> KubernetesClassification {
        KubernetesOutcomeClassifier.classify(snapshot, mainContainer: "main", waitingFailureGrace: grace, now: now)
    }

    func outcome(_ classification: KubernetesClassification) -> BackendOutcome? {
        if case .finished(let outcome) = classification.observation { return outcome }
        return nil
    }

    @Test("a Job marked Failed because a sidecar died while the main container exited 0 is SUCCEEDED, with a note")
    func sidecarFailureMainSuccess() throws {
        let snapshot = KubernetesAttemptSnapshot(
            job: job([.init(type: "Failed", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit")]),
            pods: [pod(phase: "Failed", ["main": terminated(0, "Completed"), "log-shipper": terminated(1, "Error")])])
        let result = try #require(outcome(classify(snapshot)))
        #expect(result.state == .succeeded && result.exitCode == 0 && result.source == .backend && result.failureClass == nil)
        #expect(result.reason?.contains("BackoffLimitExceeded") == true)
        #expect(result.reason?.contains("log-shipper exited 1") == true)
        #expect(result.finishedAt == KubernetesTime.parse("2027-01-15T08:05:00Z"))
    }

    @Test("a Failed Job seen before its pod's final status waits for the pod (separate watches), then the Job decides")
    func jobBeforePod() throws {
        var failedJob = job([.init(type: "Failed", reason: "BackoffLimitExceeded")])
        failedJob.status?.failed = 1
        let stale = [pod(["main": running])]
        // Within the grace: still running, not FAILED — the pod's exit 0 may be on its way.
        #expect(
            classify(.init(job: failedJob, pods: stale, jobFinishedSince: now.addingTimeInterval(-2))).observation
                == .running(since: KubernetesTime.parse("2027-01-15T08:00:05Z")!))
        // The pod's final status arrives: main exited 0, SUCCEEDED.
        let arrived = try #require(
            outcome(classify(.init(job: failedJob, pods: [pod(phase: "Failed", ["main": terminated(0)])], jobFinishedSince: now))))
        #expect(arrived.state == .succeeded)
        // It never arrives: the Job's condition decides, as the orchestrator's word.
        let late = try #require(outcome(classify(.init(job: failedJob, pods: stale, jobFinishedSince: now.addingTimeInterval(-11)))))
        #expect(late.state == .failed && late.source == .orchestrator)
        // No pod known yet although the Job counted one: wait as well.
        #expect(outcome(classify(.init(job: failedJob, jobFinishedSince: now))) == nil)
    }

    @Test("plain success: main exit 0 and Complete, no note")
    func success() throws {
        let result = try #require(
            outcome(classify(.init(job: job([.init(type: "Complete")]), pods: [pod(phase: "Succeeded", ["main": terminated(0)])]))))
        #expect(result.state == .succeeded && result.reason == nil && result.startedAt == KubernetesTime.parse("2027-01-15T08:00:05Z"))
    }

    @Test("main exit 0 decides even before the Job condition arrives")
    func successBeforeJobCondition() throws {
        let result = try #require(outcome(classify(.init(job: job(), pods: [pod(phase: "Succeeded", ["main": terminated(0)])]))))
        #expect(result.state == .succeeded)
    }

    @Test("a non-zero exit of the main container is a user error with its exit code")
    func userError() throws {
        let snapshot = KubernetesAttemptSnapshot(
            job: job([.init(type: "Failed", reason: "BackoffLimitExceeded")]), pods: [pod(phase: "Failed", ["main": terminated(3, "Error")])])
        let result = try #require(outcome(classify(snapshot)))
        #expect(result.state == .failed && result.exitCode == 3 && result.failureClass == .userError && result.source == .backend)
    }

    @Test("OOMKilled is FAILED (user error: the memory request was too small), and says so")
    func oomKilled() throws {
        let result = try #require(outcome(classify(.init(job: job(), pods: [pod(phase: "Failed", ["main": terminated(137, "OOMKilled")])]))))
        #expect(result.state == .failed && result.exitCode == 137 && result.failureClass == .userError)
        #expect(result.reason?.hasPrefix("OOMKilled") == true)
    }

    @Test("an evicted pod is an infrastructure failure even though the container exited non-zero")
    func evicted() throws {
        let snapshot = KubernetesAttemptSnapshot(
            job: job([.init(type: "Failed", reason: "PodFailurePolicy")]),
            pods: [
                pod(
                    phase: "Failed", reason: "Evicted",
                    conditions: [.init(type: "DisruptionTarget", status: "True", reason: "TerminationByKubelet", message: "low on memory")],
                    ["main": terminated(137, "Error")])
            ])
        let result = try #require(outcome(classify(snapshot)))
        #expect(result.state == .failed && result.failureClass == .infrastructure && result.reason?.contains("TerminationByKubelet") == true)
    }

    @Test("node loss (pod reason NodeLost, no container exit) is an infrastructure failure")
    func nodeLost() throws {
        let result = try #require(outcome(classify(.init(job: job(), pods: [pod(phase: "Failed", reason: "NodeLost", ["main": running])]))))
        #expect(result.state == .failed && result.failureClass == .infrastructure && result.reason?.contains("NodeLost") == true)
    }

    @Test("a Job that failed by its pod-failure policy without pod details is infrastructure, from the orchestrator")
    func podFailurePolicyWithoutPods() throws {
        let result = try #require(outcome(classify(.init(job: job([.init(type: "Failed", reason: "PodFailurePolicy")])))))
        #expect(result.state == .failed && result.failureClass == .infrastructure && result.source == .orchestrator)
    }

    @Test("DeadlineExceeded is TIMED_OUT, also when the killed container's exit arrives first")
    func deadline() throws {
        let failed = KubernetesJob.Condition(type: "Failed", reason: "DeadlineExceeded", message: "Job was active longer than specified deadline")
        let killed = pod(phase: "Failed", deleting: true, ["main": terminated(143, "Error")])
        let result = try #require(outcome(classify(.init(job: job([failed]), pods: [killed]))))
        #expect(result.state == .timedOut && result.exitCode == 143 && result.reason?.contains("600 s") == true)
        // Before the Job's condition arrives, a pod being deleted does not decide the outcome.
        #expect(outcome(classify(.init(job: job(), pods: [killed]))) == nil)
        let noPod = try #require(outcome(classify(.init(job: job([failed])))))
        #expect(noPod.state == .timedOut)
    }

    @Test("image pull failures stay PENDING with the reason, then fail as infrastructure after the grace and abandon the Job")
    func imagePull() throws {
        let pulling = [pod(phase: "Pending", ["main": waiting("ImagePullBackOff")])]
        let early = classify(.init(job: job(), pods: pulling, waitingFailureSince: now.addingTimeInterval(-10)))
        #expect(early.observation == .pending(reason: "ImagePullBackOff: details") && !early.abandonJob)
        let late = classify(.init(job: job(), pods: pulling, waitingFailureSince: now.addingTimeInterval(-61)))
        let result = try #require(outcome(late))
        #expect(result.state == .failed && result.failureClass == .infrastructure && late.abandonJob)
        #expect(result.reason?.contains("ImagePullBackOff") == true)
    }

    @Test("an invalid image name fails at once; a missing secret is an invalid request after the grace")
    func hopelessWaits() throws {
        let invalid = try #require(outcome(classify(.init(job: job(), pods: [pod(phase: "Pending", ["main": waiting("InvalidImageName")])]))))
        #expect(invalid.state == .failed && invalid.failureClass == .infrastructure)
        let secret = [pod(phase: "Pending", ["main": waiting("CreateContainerConfigError")])]
        #expect(
            classify(.init(job: job(), pods: secret, waitingFailureSince: now)).observation == .pending(reason: "CreateContainerConfigError: details")
        )
        let late = try #require(outcome(classify(.init(job: job(), pods: secret, waitingFailureSince: now.addingTimeInterval(-120)))))
        #expect(late.failureClass == .invalidRequest)
    }

    @Test("an unschedulable pod is PENDING with the scheduler's reason")
    func unschedulable() {
        let unschedulable = pod(
            phase: "Pending", conditions: [.init(type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available")],
            [:])
        #expect(classify(.init(job: job(), pods: [unschedulable])).observation == .pending(reason: "Unschedulable: 0/3 nodes are available"))
    }

    @Test("running, creating, no pod yet, absent")
    func inProgress() {
        #expect(
            classify(.init(job: job(), pods: [pod(["main": running])])).observation == .running(since: KubernetesTime.parse("2027-01-15T08:00:05Z")!))
        #expect(
            classify(.init(job: job(), pods: [pod(phase: "Pending", ["main": waiting("ContainerCreating")])])).observation
                == .pending(reason: "ContainerCreating"))
        #expect(classify(.init(job: job())).observation == .pending(reason: "waiting for the Job controller to create a pod"))
        #expect(classify(.init(job: nil)).observation == .absent)
    }

    @Test("a cancelled attempt is CANCELLED unless its main container already succeeded")
    func cancelled() throws {
        let killed = try #require(
            outcome(classify(.init(job: nil, pods: [pod(deleting: true, ["main": terminated(143)])], jobDeleted: true, stopReason: "user asked"))))
        #expect(killed.state == .cancelled && killed.reason == "user asked")
        let gone = try #require(outcome(classify(.init(job: nil, jobDeleted: true, stopReason: "user asked"))))
        #expect(gone.state == .cancelled)
        let done = try #require(outcome(classify(.init(job: nil, pods: [pod(["main": terminated(0)])], jobDeleted: true, stopReason: "late"))))
        #expect(done.state == .succeeded)
    }

    @Test("a Job deleted by someone else before it finished is an infrastructure failure, not absent (never re-created)")
    func deletedOutside() throws {
        let result = try #require(outcome(classify(.init(job: nil, jobDeleted: true))))
        #expect(result.state == .failed && result.failureClass == .infrastructure)
    }

    @Test("a Complete Job whose pods are gone is SUCCEEDED by the orchestrator's word")
    func completeWithoutPods() throws {
        let result = try #require(outcome(classify(.init(job: job([.init(type: "Complete")])))))
        #expect(result.state == .succeeded && result.source == .orchestrator)
    }
}
