import Foundation
import Glibc
import Logging
import Synchronization
import TrainyardBackends
import TrainyardCore

/// Settings of the local backend.
public struct LocalBackendConfiguration: Sendable {
    /// Holds `runs/<resource name>/` for every attempt; shared by all workers on this host.
    public var stateDirectory: URL
    /// The `trainyard` executable that runs `local-supervise` (default: this process's own).
    public var supervisorExecutable: URL
    /// SIGTERM → SIGKILL grace on cancel and timeout.
    public var gracePeriodSeconds: Double
    /// Folder whose files hold secret values, one file per secret name (resolved by the supervisor).
    public var secretsDirectory: URL?
    /// PATH given to jobs.
    public var jobPath: String

    public init(
        stateDirectory: URL, supervisorExecutable: URL = LocalBackendConfiguration.currentExecutable,
        gracePeriodSeconds: Double = 10, secretsDirectory: URL? = nil,
        jobPath: String = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    ) {
        self.stateDirectory = stateDirectory
        self.supervisorExecutable = supervisorExecutable
        self.gracePeriodSeconds = gracePeriodSeconds
        self.secretsDirectory = secretsDirectory
        self.jobPath = jobPath
    }

    /// This process's executable.
    public static var currentExecutable: URL {
        URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
    }
}

/// Runs attempts as local processes.
///
/// Each attempt gets a run directory and a detached supervisor process (`trainyard
/// local-supervise DIR`) that starts the job's argv without a shell, enforces its max runtime,
/// handles cancel requests and records the outcome in `status.json`, so the outcome survives the
/// worker. The supervisor's lock and the create-only `started.json` make a second start of the
/// same attempt impossible, whichever worker asks and however often.
public final class LocalBackend: ComputeBackend {
    public let name = "local"
    public let configuration: LocalBackendConfiguration
    private let logger: Logger
    /// Supervisors this process spawned and has not reaped yet.
    private let children = Mutex<Set<pid_t>>([])

    public init(configuration: LocalBackendConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        try FileManager.default.createDirectory(at: configuration.stateDirectory.appendingPathComponent("runs"), withIntermediateDirectories: true)
    }

    public func ensure(_ identity: BackendIdentity, spec: JobSpec) async throws(BackendError) -> BackendObservation {
        let run = directory(identity)
        do {
            try FileManager.default.createDirectory(at: run.work, withIntermediateDirectories: true)
            if run.read(LocalRunRequest.self, from: run.request) == nil {
                let request = LocalRunRequest(
                    jobID: identity.jobID, attempt: identity.attempt, argv: spec.command + spec.args, env: spec.env,
                    secrets: spec.secrets, maxRuntimeSeconds: spec.maxRuntimeSeconds, gracePeriodSeconds: configuration.gracePeriodSeconds)
                try run.write(request, to: run.request)
            }
        } catch {
            throw BackendError(.transient, "cannot prepare \(run.url.path): \(error)")
        }
        let observation = try await observe(identity)
        if observation == .absent { try launchSupervisor(run) }
        return observation == .absent ? .pending(reason: "starting supervisor") : observation
    }

    public func observe(_ identity: BackendIdentity) async throws(BackendError) -> BackendObservation {
        reapChildren()
        return Self.observe(directory(identity))
    }

    public func stop(_ identity: BackendIdentity, reason: String) async throws(BackendError) {
        let run = directory(identity)
        guard run.exists else { return }
        do {
            _ = try run.create(LocalRunCancel(reason: reason, requestedAt: Date()), at: run.cancel)
            // No supervisor will ever act on the request when none is alive and none started the job.
            if !SupervisorLock.isHeld(run.lock), run.read(LocalRunStarted.self, from: run.started) == nil {
                _ = try run.create(LocalRunStatus(state: .cancelled, reason: reason, finishedAt: Date()), at: run.status)
            }
        } catch {
            throw BackendError(.transient, "cannot cancel \(identity): \(error)")
        }
    }

    public func existingAttempts(of jobID: JobID) async throws(BackendError) -> [Int] {
        // Attempts are numbered 1, 2, … without gaps: probe their directories in order.
        var attempts: [Int] = []
        while FileManager.default.fileExists(atPath: directory(BackendIdentity(jobID: jobID, attempt: attempts.count + 1, team: "")).url.path) {
            attempts.append(attempts.count + 1)
        }
        return attempts
    }

    private func directory(_ identity: BackendIdentity) -> LocalRunDirectory {
        LocalRunDirectory(stateDirectory: configuration.stateDirectory, resourceName: identity.resourceName)
    }

    /// Reads the attempt's state from its run directory.
    static func observe(_ run: LocalRunDirectory) -> BackendObservation {
        let started = run.read(LocalRunStarted.self, from: run.started)
        if let status = run.read(LocalRunStatus.self, from: run.status) { return .finished(outcome(status, startedAt: started?.startedAt)) }
        let supervised = SupervisorLock.isHeld(run.lock)
        guard let started else { return supervised ? .pending(reason: "supervisor starting the job") : .absent }
        if supervised { return .running(since: started.startedAt) }
        // Re-read: the supervisor may have written the status and exited in between.
        if let status = run.read(LocalRunStatus.self, from: run.status) { return .finished(outcome(status, startedAt: started.startedAt)) }
        // The supervisor died mid-run: stop what it left behind and record the loss once.
        run.read(LocalRunProcess.self, from: run.process)?.killGroup()
        let lost = LocalRunStatus(
            state: .failed, failureClass: .infrastructure, reason: "the local supervisor exited without recording an outcome", finishedAt: Date())
        _ = try? run.create(lost, at: run.status)
        return .finished(outcome(run.read(LocalRunStatus.self, from: run.status) ?? lost, startedAt: started.startedAt))
    }

    private static func outcome(_ status: LocalRunStatus, startedAt: Date?) -> BackendOutcome {
        BackendOutcome(
            state: status.state, exitCode: status.exitCode, failureClass: status.failureClass, reason: status.reason,
            finishedAt: status.finishedAt, startedAt: startedAt)
    }

    private func launchSupervisor(_ run: LocalRunDirectory) throws(BackendError) {
        var environment = ["PATH": configuration.jobPath, "TRAINYARD_JOB_PATH": configuration.jobPath]
        if let secrets = configuration.secretsDirectory { environment["TRAINYARD_SECRETS_DIR"] = secrets.path }
        for key in ["LD_LIBRARY_PATH", "HOME", "LANG", "TZ"] { environment[key] = ProcessInfo.processInfo.environment[key] }
        let options = ProcessSpawner.Options(
            environment: environment, standardOutput: run.supervisorLog, standardError: run.supervisorLog, newSession: true)
        switch ProcessSpawner.spawn([configuration.supervisorExecutable.path, "local-supervise", run.url.path], options: options) {
        case .success(let pid):
            _ = children.withLock { $0.insert(pid) }
            logger.debug("started supervisor", metadata: ["run": "\(run.url.lastPathComponent)", "pid": "\(pid)"])
        case .failure(let failure):
            throw BackendError(.transient, "cannot start \(configuration.supervisorExecutable.path): \(failure.message)")
        }
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
