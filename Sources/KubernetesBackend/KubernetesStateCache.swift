import Foundation
import Synchronization
import TrainyardBackends
import TrainyardKubernetes

/// The Jobs and pods of one namespace as the watches and relists last saw them, plus what this
/// process decided about them (stop requests, since when a container keeps failing to start).
/// Times (when a Job was seen deleted) are read from `now`.
final class KubernetesStateCache: Sendable {
    private struct State {
        var jobs: [String: KubernetesJob] = [:]
        /// Job name → pod name → pod.
        var pods: [String: [String: KubernetesPod]] = [:]
        /// Job name → when it was seen deleted.
        var deleted: [String: Date] = [:]
        var stopReasons: [String: String] = [:]
        var waitingFailureSince: [String: Date] = [:]
        var jobFinishedSince: [String: Date] = [:]
        /// Outcomes this process decided for Jobs it gave up on (and deleted).
        var abandoned: [String: BackendOutcome] = [:]
    }

    private let state = Mutex(State())
    private let now: @Sendable () -> Date

    init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    /// The label the Job controller puts on its pods (older clusters: `job-name`).
    static func jobName(of pod: KubernetesPod) -> String? {
        pod.metadata.labels?["batch.kubernetes.io/job-name"] ?? pod.metadata.labels?["job-name"]
    }

    func snapshot(_ name: String) -> KubernetesAttemptSnapshot {
        state.withLock { state in
            KubernetesAttemptSnapshot(
                job: state.jobs[name], pods: state.pods[name].map { Array($0.values) } ?? [], jobDeleted: state.deleted[name] != nil,
                stopReason: state.stopReasons[name], waitingFailureSince: state.waitingFailureSince[name],
                jobFinishedSince: state.jobFinishedSince[name])
        }
    }

    /// True when the Job is in the cache or known to be deleted.
    func knows(_ name: String) -> Bool {
        state.withLock { $0.jobs[name] != nil || $0.deleted[name] != nil }
    }

    func upsert(job: KubernetesJob) {
        guard let name = job.metadata.name else { return }
        state.withLock { state in
            state.jobs[name] = job
            state.deleted[name] = nil
        }
    }

    /// Adds a Job read outside the watch unless the watch already has one (which is at least as new).
    func insertIfAbsent(job: KubernetesJob, pods: [KubernetesPod]) {
        guard let name = job.metadata.name else { return }
        state.withLock { state in
            guard state.jobs[name] == nil, state.deleted[name] == nil else { return }
            state.jobs[name] = job
            for pod in pods where state.pods[name]?[pod.metadata.name ?? ""] == nil {
                state.pods[name, default: [:]][pod.metadata.name ?? ""] = pod
            }
        }
    }

    func remove(job: KubernetesJob) {
        guard let name = job.metadata.name else { return }
        state.withLock { state in
            state.jobs[name] = nil
            state.deleted[name] = state.deleted[name] ?? now()
        }
    }

    /// A full list: Jobs that were known and are missing now were deleted meanwhile. Everything
    /// remembered about Jobs deleted longer than `forgetAfter` ago is dropped (nobody tracks them).
    func replaceJobs(_ jobs: [KubernetesJob], forgetAfter: TimeInterval = 3600) {
        let now = now()
        state.withLock { state in
            let listed = Dictionary(jobs.compactMap { job in job.metadata.name.map { ($0, job) } }, uniquingKeysWith: { $1 })
            for name in state.jobs.keys where listed[name] == nil { state.deleted[name] = state.deleted[name] ?? now }
            state.jobs = listed
            for name in listed.keys { state.deleted[name] = nil }
            for (name, since) in state.deleted where now.timeIntervalSince(since) > forgetAfter {
                state.deleted[name] = nil
                state.pods[name] = nil
                state.stopReasons[name] = nil
                state.waitingFailureSince[name] = nil
                state.jobFinishedSince[name] = nil
                state.abandoned[name] = nil
            }
        }
    }

    func upsert(pod: KubernetesPod) {
        guard let job = Self.jobName(of: pod), let name = pod.metadata.name else { return }
        state.withLock { $0.pods[job, default: [:]][name] = pod }
    }

    func remove(pod: KubernetesPod) {
        guard let job = Self.jobName(of: pod), let name = pod.metadata.name else { return }
        state.withLock { $0.pods[job]?[name] = nil }
    }

    func replacePods(_ pods: [KubernetesPod]) {
        state.withLock { state in
            state.pods = [:]
            for pod in pods {
                guard let job = Self.jobName(of: pod), let name = pod.metadata.name else { continue }
                state.pods[job, default: [:]][name] = pod
            }
        }
    }

    func recordAbandoned(_ name: String, outcome: BackendOutcome) {
        state.withLock { $0.abandoned[name] = $0.abandoned[name] ?? outcome }
    }

    func abandonedOutcome(_ name: String) -> BackendOutcome? {
        state.withLock { $0.abandoned[name] }
    }

    func recordStop(_ name: String, reason: String) {
        state.withLock { $0.stopReasons[name] = $0.stopReasons[name] ?? reason }
    }

    /// Remembers when this process first saw a failing wait and a finished Job; a wait that
    /// cleared forgets its time.
    func noteProgress(_ name: String, waitingFailure: Bool, jobFinished: Bool, now: Date) {
        state.withLock { state in
            state.waitingFailureSince[name] = waitingFailure ? state.waitingFailureSince[name] ?? now : nil
            if jobFinished { state.jobFinishedSince[name] = state.jobFinishedSince[name] ?? now }
        }
    }
}
