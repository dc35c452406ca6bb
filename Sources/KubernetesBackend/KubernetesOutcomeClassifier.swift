import Foundation
import TrainyardBackends
import TrainyardCore
import TrainyardKubernetes

/// What is known about one attempt's Job and pods, as the watch last saw them.
public struct KubernetesAttemptSnapshot: Sendable {
    /// Nil when the Job is not known (never created, or deleted).
    public var job: KubernetesJob?
    public var pods: [KubernetesPod]
    /// The Job existed and was deleted.
    public var jobDeleted: Bool
    /// Trainyard asked to stop the attempt (and the delete was accepted).
    public var stopReason: String?
    /// Since when the main container has been waiting for a reason that may never clear (image
    /// pull, missing secret).
    public var waitingFailureSince: Date?
    /// Since when the Job has had a `Complete` or `Failed` condition (seen by this process).
    public var jobFinishedSince: Date?

    public init(
        job: KubernetesJob?, pods: [KubernetesPod] = [], jobDeleted: Bool = false, stopReason: String? = nil, waitingFailureSince: Date? = nil,
        jobFinishedSince: Date? = nil
    ) {
        self.job = job
        self.pods = pods
        self.jobDeleted = jobDeleted
        self.stopReason = stopReason
        self.waitingFailureSince = waitingFailureSince
        self.jobFinishedSince = jobFinishedSince
    }
}

/// The classifier's verdict.
public struct KubernetesClassification: Sendable, Equatable {
    public var observation: BackendObservation
    /// Trainyard gave up on a Job Kubernetes still runs (e.g. an image that never pulls): delete it.
    public var abandonJob: Bool

    public init(_ observation: BackendObservation, abandonJob: Bool = false) {
        self.observation = observation
        self.abandonJob = abandonJob
    }
}

/// Decides an attempt's state from its Job and pods. Pure.
///
/// The main container's terminated state is the authority: exit 0 is SUCCEEDED even when the
/// Job was marked Failed (a sidecar died). Disruptions (eviction, preemption, node loss) and
/// pods that never start are infrastructure failures; a non-zero exit or OOM kill of the main
/// container is the job's own; the Job's `DeadlineExceeded` is TIMED_OUT. Jobs and pods arrive on
/// separate watches: a finished Job whose pod still looks unfinished waits up to
/// `podStatusGrace` for the pod's final status before the Job's condition decides.
public enum KubernetesOutcomeClassifier {
    /// Waiting reasons that only end when someone fixes the image or the secret.
    public static let failingWaitReasons: Set<String> = [
        "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError",
    ]
    /// Waiting reasons that can never clear by themselves: fail without a grace period.
    static let hopelessWaitReasons: Set<String> = ["InvalidImageName", "ErrImageNeverPull"]
    /// Pod-level reasons of a pod the platform took away.
    static let disruptionReasons: Set<String> = [
        "Evicted", "NodeLost", "Shutdown", "Terminated", "Preempting", "NodeShutdown", "UnexpectedAdmissionError",
    ]

    public static func classify(
        _ snapshot: KubernetesAttemptSnapshot, mainContainer: String, waitingFailureGrace: Duration, podStatusGrace: Duration = .seconds(10),
        now: Date
    ) -> KubernetesClassification {
        let job = snapshot.job
        let failed = job?.condition("Failed") ?? job?.condition("FailureTarget")
        let complete = job?.condition("Complete") ?? job?.condition("SuccessCriteriaMet")
        let pod = representativePod(snapshot.pods, mainContainer: mainContainer)
        let main = pod?.containerStatus(mainContainer)
        let startedAt = KubernetesTime.parse(main?.state?.terminated?.startedAt ?? main?.state?.running?.startedAt)

        if let terminated = main?.state?.terminated {
            let finishedAt = KubernetesTime.parse(terminated.finishedAt) ?? now
            if terminated.exitCode == 0 {
                return KubernetesClassification(
                    .finished(
                        BackendOutcome(
                            state: .succeeded, exitCode: 0, reason: successNote(job: job, failed: failed, pod: pod!, mainContainer: mainContainer),
                            finishedAt: finishedAt, startedAt: startedAt, source: .backend)))
            }
            if let deadline = failed, deadline.reason == "DeadlineExceeded" {
                return KubernetesClassification(
                    .finished(timedOut(deadline, job: job, exitCode: terminated.exitCode, startedAt: startedAt, now: now)))
            }
            if let disruption = disruption(pod!, failed: failed) {
                return KubernetesClassification(
                    .finished(
                        BackendOutcome(
                            state: .failed, exitCode: terminated.exitCode, failureClass: .infrastructure, reason: disruption, finishedAt: finishedAt,
                            startedAt: startedAt, source: .backend)))
            }
            if let reason = snapshot.stopReason {
                return KubernetesClassification(
                    .finished(BackendOutcome(state: .cancelled, reason: reason, finishedAt: finishedAt, startedAt: startedAt)))
            }
            // A pod being deleted (deadline, cancel) is killed: wait for the Job's own verdict.
            if pod?.metadata.deletionTimestamp == nil || failed != nil || job == nil {
                return KubernetesClassification(.finished(userFailure(terminated, finishedAt: finishedAt, startedAt: startedAt)))
            }
        }
        if let failed, failed.reason == "DeadlineExceeded" {
            return KubernetesClassification(.finished(timedOut(failed, job: job, exitCode: nil, startedAt: startedAt, now: now)))
        }
        // The pod's final status may still be on its way (or its pods are gone: then the Job decides).
        let podLags =
            pod.map { $0.status?.phase != "Failed" && $0.status?.phase != "Succeeded" }
            ?? ((job?.status?.failed ?? 0) + (job?.status?.succeeded ?? 0) > 0)
        let settling = podLags && .seconds(now.timeIntervalSince(snapshot.jobFinishedSince ?? now)) < podStatusGrace
        if let failed, !settling {
            let why = pod.flatMap { disruption($0, failed: failed) } ?? "the Job failed before its main container finished (\(describe(failed)))"
            return KubernetesClassification(
                .finished(
                    BackendOutcome(
                        state: .failed, failureClass: .infrastructure, reason: why, finishedAt: conditionTime(failed, job: job) ?? now,
                        startedAt: startedAt, source: .orchestrator)))
        }
        if let complete, !settling {
            return KubernetesClassification(
                .finished(
                    BackendOutcome(
                        state: .succeeded, reason: "the Job completed (its pods are gone)", finishedAt: conditionTime(complete, job: job) ?? now,
                        startedAt: startedAt, source: .orchestrator)))
        }
        if let reason = snapshot.stopReason {
            return KubernetesClassification(.finished(BackendOutcome(state: .cancelled, reason: reason, finishedAt: now, startedAt: startedAt)))
        }
        if job == nil {
            guard snapshot.jobDeleted else { return KubernetesClassification(.absent) }
            return KubernetesClassification(
                .finished(
                    BackendOutcome(
                        state: .failed, failureClass: .infrastructure, reason: "the Job was deleted outside Trainyard before it finished",
                        finishedAt: now, startedAt: startedAt, source: .orchestrator)))
        }
        if let pod, pod.status?.phase == "Failed", let disruption = disruption(pod, failed: nil) {
            return KubernetesClassification(
                .finished(
                    BackendOutcome(
                        state: .failed, failureClass: .infrastructure, reason: disruption, finishedAt: now, startedAt: startedAt, source: .backend)))
        }
        return KubernetesClassification(
            waiting(main, pod: pod, since: snapshot.waitingFailureSince, grace: waitingFailureGrace, now: now, startedAt: startedAt),
            abandonJob: false
        ).abandoningWhenGivenUp()
    }

    /// The pod that speaks for the attempt: one whose main container terminated, else the newest.
    static func representativePod(_ pods: [KubernetesPod], mainContainer: String) -> KubernetesPod? {
        pods.first { $0.containerStatus(mainContainer)?.state?.terminated != nil }
            ?? pods.max { ($0.metadata.creationTimestamp ?? "") < ($1.metadata.creationTimestamp ?? "") }
    }

    /// Not finished: running, or pending with the most useful reason, or given up after the grace.
    private static func waiting(
        _ main: KubernetesPod.ContainerStatus?, pod: KubernetesPod?, since: Date?, grace: Duration, now: Date, startedAt: Date?
    ) -> BackendObservation {
        guard let pod else { return .pending(reason: "waiting for the Job controller to create a pod") }
        if main?.state?.running != nil { return .running(since: startedAt ?? KubernetesTime.parse(pod.status?.startTime) ?? now) }
        if let waiting = main?.state?.waiting, let reason = waiting.reason, failingWaitReasons.contains(reason) {
            let description = "\(reason)\(waiting.message.map { ": \($0)" } ?? "")"
            if hopelessWaitReasons.contains(reason) || .seconds(now.timeIntervalSince(since ?? now)) >= grace {
                let failureClass: FailureClass = reason == "CreateContainerConfigError" ? .invalidRequest : .infrastructure
                return .finished(
                    BackendOutcome(
                        state: .failed, failureClass: failureClass, reason: "the main container never started: \(description)", finishedAt: now,
                        source: .backend))
            }
            return .pending(reason: description)
        }
        if let scheduled = pod.status?.conditions?.first(where: { $0.type == "PodScheduled" && $0.status == "False" }) {
            return .pending(reason: "\(scheduled.reason ?? "NotScheduled")\(scheduled.message.map { ": \($0)" } ?? "")")
        }
        if let reason = main?.state?.waiting?.reason { return .pending(reason: reason) }
        return .pending(reason: "pod \(pod.status?.phase ?? "Pending")")
    }

    private static func successNote(job: KubernetesJob?, failed: KubernetesJob.Condition?, pod: KubernetesPod, mainContainer: String) -> String? {
        let sidecars = (pod.status?.containerStatuses ?? []).compactMap { status -> String? in
            guard status.name != mainContainer, let terminated = status.state?.terminated, terminated.exitCode != 0 else { return nil }
            return "\(status.name) exited \(terminated.exitCode)\(terminated.reason.map { " (\($0))" } ?? "")"
        }
        guard failed != nil || !sidecars.isEmpty else { return nil }
        var note = "the main container exited 0"
        if let failed { note += "; the Job was marked Failed (\(describe(failed)))" }
        if !sidecars.isEmpty { note += "; sidecar \(sidecars.joined(separator: ", "))" }
        return note
    }

    /// Why the platform took the pod away, if it did.
    private static func disruption(_ pod: KubernetesPod, failed: KubernetesJob.Condition?) -> String? {
        if let target = pod.condition("DisruptionTarget") {
            return "pod disrupted: \(target.reason ?? "DisruptionTarget")\(target.message.map { ": \($0)" } ?? "")"
        }
        if let reason = pod.status?.reason, disruptionReasons.contains(reason) {
            return "pod \(reason)\(pod.status?.message.map { ": \($0)" } ?? "")"
        }
        if let failed, failed.reason == "PodFailurePolicy" { return "pod disrupted (\(describe(failed)))" }
        return nil
    }

    private static func userFailure(_ terminated: KubernetesPod.Terminated, finishedAt: Date, startedAt: Date?) -> BackendOutcome {
        let reason: String
        switch terminated.reason {
        case "OOMKilled": reason = "OOMKilled: the main container exceeded its memory limit (raise resources.memoryMiB)"
        case let other?: reason = "exit code \(terminated.exitCode) (\(other)\(terminated.message.map { ": \($0)" } ?? ""))"
        case nil: reason = "exit code \(terminated.exitCode)"
        }
        return BackendOutcome(
            state: .failed, exitCode: terminated.exitCode, failureClass: .userError, reason: reason, finishedAt: finishedAt, startedAt: startedAt,
            source: .backend)
    }

    private static func timedOut(_ condition: KubernetesJob.Condition, job: KubernetesJob?, exitCode: Int32?, startedAt: Date?, now: Date)
        -> BackendOutcome
    {
        BackendOutcome(
            state: .timedOut, exitCode: exitCode, failureClass: .userError,
            reason: "exceeded maxRuntimeSeconds (\(job?.spec?.activeDeadlineSeconds.map { "\($0) s" } ?? "activeDeadlineSeconds"))",
            finishedAt: conditionTime(condition, job: job) ?? now, startedAt: startedAt, source: .orchestrator)
    }

    private static func conditionTime(_ condition: KubernetesJob.Condition, job: KubernetesJob?) -> Date? {
        KubernetesTime.parse(condition.lastTransitionTime) ?? KubernetesTime.parse(job?.status?.completionTime)
    }

    private static func describe(_ condition: KubernetesJob.Condition) -> String {
        "\(condition.reason ?? condition.type)\(condition.message.map { ": \($0)" } ?? "")"
    }
}

extension KubernetesClassification {
    /// A pending Job that Trainyard declared failed must not linger and start later.
    fileprivate func abandoningWhenGivenUp() -> KubernetesClassification {
        if case .finished = observation { return KubernetesClassification(observation, abandonJob: true) }
        return self
    }
}
