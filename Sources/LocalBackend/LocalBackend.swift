import Foundation
import Glibc
import LocalSupervision
import Logging
import Synchronization
import TrainyardBackends
import TrainyardCore

/// Settings of the local backend.
public struct LocalBackendConfiguration: Sendable {
    /// Holds `runs/<resource name>/` for every attempt; shared by all workers on this host.
    public var stateDirectory: URL
    /// The supervisor program, run as `PROGRAM local-supervise DIR …` (default:
    /// `trainyard-local-supervise` next to this process's executable, else this executable).
    public var supervisorExecutable: URL
    /// SIGTERM → SIGKILL grace on cancel and timeout.
    public var gracePeriodSeconds: Double
    /// Folder whose files hold secret values, one file per secret name (resolved by the supervisor).
    public var secretsDirectory: URL?
    /// PATH given to jobs.
    public var jobPath: String
    /// The unprivileged user jobs run as (the worker must be root); nil: the worker's user.
    public var runAs: JobUser?

    public init(
        stateDirectory: URL, supervisorExecutable: URL = LocalBackendConfiguration.defaultSupervisor,
        gracePeriodSeconds: Double = 10, secretsDirectory: URL? = nil,
        jobPath: String = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", runAs: JobUser? = nil
    ) {
        self.stateDirectory = stateDirectory
        self.supervisorExecutable = supervisorExecutable
        self.gracePeriodSeconds = gracePeriodSeconds
        self.secretsDirectory = secretsDirectory
        self.jobPath = jobPath
        self.runAs = runAs
    }

    /// This process's executable.
    public static var currentExecutable: URL {
        URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
    }

    /// `trainyard-local-supervise` beside this process's executable when it is there (it starts
    /// in about a millisecond), else this executable (`trainyard local-supervise` runs the same code).
    public static var defaultSupervisor: URL {
        let small = currentExecutable.deletingLastPathComponent().appendingPathComponent("trainyard-local-supervise")
        return access(small.path, X_OK) == 0 ? small : currentExecutable
    }
}

/// Runs attempts as local processes.
///
/// Each attempt gets a run directory and a detached supervisor process
/// (`trainyard-local-supervise`, which links no Foundation) that starts the job's argv without a
/// shell, enforces its max runtime, handles cancel requests and records the outcome in
/// `status.json`, so the outcome survives the worker. The supervisor's lock and the create-only
/// `started.json` make a second start of the same attempt impossible, whichever worker asks and
/// however often. Changes are pushed: `nextObservation` wakes on the run directory's inotify
/// events (see docs/backends/local.md for the design and its crash argument).
public final class LocalBackend: ComputeBackend {
    public let name = "local"
    public let configuration: LocalBackendConfiguration
    private let logger: Logger
    /// Supervisors this process spawned and has not reaped yet.
    private let children = Mutex<Set<pid_t>>([])
    /// Nil where inotify is unavailable: `nextObservation` then polls.
    private let watcher: RunDirectoryWatcher?
    /// What jobs inherit from this process's environment (read once: building
    /// `ProcessInfo.environment` per attempt was about 8 % of a local worker's CPU).
    private let inheritedEnvironment = ProcessInfo.processInfo.environment.filter { ["HOME", "LANG", "TZ"].contains($0.key) }

    public init(configuration: LocalBackendConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        watcher = RunDirectoryWatcher()
        try FileManager.default.createDirectory(at: configuration.stateDirectory.appendingPathComponent("runs"), withIntermediateDirectories: true)
    }

    public func ensure(_ identity: BackendIdentity, spec: JobSpec) async throws(BackendError) -> BackendObservation {
        let run = directory(identity)
        if mkdir(run.files.directory, 0o755) != 0 && errno != EEXIST || mkdir(run.files.work, 0o755) != 0 && errno != EEXIST {
            throw BackendError(.transient, "cannot prepare \(run.url.path): \(String(cString: strerror(errno)))")
        }
        let observation = try await observe(identity)
        guard observation == .absent else { return observation }
        try launchSupervisor(run, spec: spec, identity: identity)
        return .pending(reason: Self.startingReason)
    }

    /// The pending reason from a supervisor's launch until the job starts.
    static let startingReason = "supervisor starting the job"

    public func observe(_ identity: BackendIdentity) async throws(BackendError) -> BackendObservation {
        reapChildren()
        return Self.observe(directory(identity))
    }

    /// Returns as soon as the run directory changes (a supervisor took its lock, started the job,
    /// recorded the outcome, or exited), or after `timeout`.
    public func nextObservation(_ identity: BackendIdentity, after current: BackendObservation, timeout: Duration)
        async throws(BackendError) -> BackendObservation
    {
        let run = directory(identity)
        guard let watcher, let token = watcher.register(run.files.directory) else {
            do { try await Task.sleep(for: timeout) } catch { throw BackendError(.transient, "cancelled while waiting to observe") }
            return try await observe(identity)
        }
        defer { watcher.unregister(token) }
        let now = try await observe(identity)
        if now != current { return now }
        // The timeout does not depend on the watcher's thread: whichever ends first ends the wait.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await watcher.wait(token, timeout: timeout) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        return try await observe(identity)
    }

    public func stop(_ identity: BackendIdentity, reason: String) async throws(BackendError) {
        let run = directory(identity)
        guard run.exists else { return }
        do {
            try run.create(bytes: Array(reason.utf8), at: run.files.cancel)
            if let supervisor = SupervisorLock.holder(run.files.lock) {
                // Wake it to read the request now (SIGCHLD: harmless to any other process).
                if supervisor > 0 { kill(supervisor, SIGCHLD) }
            } else if run.read(LocalRunStarted.self, from: run.files.started) == nil {
                // No supervisor will ever act on the request when none is alive and none started the job.
                try run.create(LocalRunStatus(state: .cancelled, reason: reason, finishedAt: Date()), at: run.files.status)
            }
        } catch {
            throw BackendError(.transient, "cannot cancel \(identity): \(error)")
        }
    }

    public func existingAttempts(of jobID: JobID) async throws(BackendError) -> [Int] {
        // Attempts are numbered 1, 2, … without gaps: probe their directories in order.
        var attempts: [Int] = []
        while RunFiles.exists(directory(BackendIdentity(jobID: jobID, attempt: attempts.count + 1, team: "")).files.directory) {
            attempts.append(attempts.count + 1)
        }
        return attempts
    }

    private func directory(_ identity: BackendIdentity) -> LocalRunDirectory {
        LocalRunDirectory(stateDirectory: configuration.stateDirectory, resourceName: identity.resourceName)
    }

    /// Reads the attempt's state from its run directory.
    static func observe(_ run: LocalRunDirectory) -> BackendObservation {
        let files = run.files
        let started = run.read(LocalRunStarted.self, from: files.started)
        if let status = run.read(LocalRunStatus.self, from: files.status) { return .finished(outcome(status, startedAt: started?.startedAt)) }
        let supervised = SupervisorLock.isHeld(files.lock)
        guard let started else { return supervised ? .pending(reason: "supervisor starting the job") : .absent }
        if supervised { return .running(since: started.startedAt) }
        // Re-read: the supervisor may have written the status and exited in between.
        if let status = run.read(LocalRunStatus.self, from: files.status) { return .finished(outcome(status, startedAt: started.startedAt)) }
        // The supervisor died mid-run: stop what it left behind and record the loss once.
        RunProcess.read(files.process)?.killGroup()
        let lost = LocalRunStatus(
            state: .failed, failureClass: .infrastructure, reason: "the local supervisor exited without recording an outcome", finishedAt: Date())
        _ = try? run.create(lost, at: files.status)
        return .finished(outcome(run.read(LocalRunStatus.self, from: files.status) ?? lost, startedAt: started.startedAt))
    }

    private static func outcome(_ status: LocalRunStatus, startedAt: Date?) -> BackendOutcome {
        BackendOutcome(
            state: status.state, exitCode: status.exitCode, failureClass: status.failureClass, reason: status.reason,
            finishedAt: status.finishedAt, startedAt: startedAt)
    }

    private func launchSupervisor(_ run: LocalRunDirectory, spec: JobSpec, identity: BackendIdentity) throws(BackendError) {
        let request = SupervisionRequest(
            directory: run.files.directory, maxRuntimeSeconds: spec.maxRuntimeSeconds, gracePeriodSeconds: configuration.gracePeriodSeconds,
            secretsDirectory: configuration.secretsDirectory?.path,
            secrets: spec.secrets.map { SupervisionRequest.Secret(env: $0.env, name: $0.secretName) }, argv: spec.command + spec.args,
            runAs: configuration.runAs)
        let environment = jobEnvironment(spec, identity).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        switch ProcessSpawn.start(
            [configuration.supervisorExecutable.path] + request.arguments, environment: environment, stdin: .nullInput, stdout: .nullOutput,
            stderr: .nullOutput, grouping: .newSession, searchPath: false)
        {
        case .success(let pid):
            _ = children.withLock { $0.insert(pid) }
            logger.debug("started supervisor", metadata: ["run": "\(run.url.lastPathComponent)", "pid": "\(pid)"])
        case .failure(let failure):
            throw BackendError(.transient, "cannot start \(configuration.supervisorExecutable.path): \(failure.message)")
        }
    }

    /// The job's environment, which the supervisor runs with and passes on: a minimal base, the
    /// spec's env, the job's identity. Secrets are added by the supervisor (their values never
    /// pass through the worker).
    func jobEnvironment(_ spec: JobSpec, _ identity: BackendIdentity) -> [String: String] {
        var environment = inheritedEnvironment
        environment["PATH"] = configuration.jobPath
        environment.merge(spec.env) { _, spec in spec }
        environment["TRAINYARD_JOB_ID"] = identity.jobID.rawValue
        environment["TRAINYARD_ATTEMPT"] = String(identity.attempt)
        return environment
    }

    /// Collects exited supervisors so they do not linger as zombies.
    private func reapChildren() {
        children.withLock { pids in
            for pid in pids {
                var status: Int32 = 0
                let result = waitpid(pid, &status, WNOHANG)
                if result == pid || (result < 0 && errno == ECHILD) { pids.remove(pid) }
            }
        }
    }
}
