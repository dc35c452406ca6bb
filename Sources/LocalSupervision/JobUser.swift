import Glibc

/// The unprivileged user a local target's jobs run as (`runAs`), when the worker runs as root.
public struct JobUser: Sendable, Equatable {
    public var uid: uid_t
    public var gid: gid_t

    public init(uid: uid_t, gid: gid_t) {
        self.uid = uid
        self.gid = gid
    }

    /// `UID:GID`, as on the supervisor's command line.
    public var argument: String { "\(uid):\(gid)" }

    /// Reads `UID:GID`; nil for anything else (and for root, which is never a job's user).
    public init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let uid = uid_t(parts[0]), let gid = gid_t(parts[1]), uid != 0, gid != 0 else { return nil }
        self.init(uid: uid, gid: gid)
    }
}

/// Starting a job as a `JobUser`: fork, then in the child drop to the user (supplementary groups,
/// then group, then user, each checked) and exec. `posix_spawn` cannot change the user.
enum JobUserSpawn {
    /// Returns the child's pid, or the errno of the step that failed (the child reports it through
    /// a close-on-exec pipe and exits 127). stdout and stderr append to files created 0600, owned
    /// by the supervisor (root): the job writes them through the inherited descriptors only.
    static func start(_ argv: [String], environment: [String], user: JobUser, stdout: String, stderr: String) -> Result<pid_t, ProcessSpawn.Failure> {
        // Everything the child needs is prepared before fork: after it, only system calls run
        // (the `trainyard local-supervise` fallback is multi-threaded, so the child must not allocate).
        guard let program = resolve(argv[0], environment: environment) else { return .failure(ProcessSpawn.Failure(code: ENOENT)) }
        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.map { strdup($0) } + [nil]
        let files: [String] = [program, "/dev/null", stdout, stderr]
        let paths = files.map { strdup($0)! }
        defer {
            for pointer in arguments + variables { free(pointer) }
            for pointer in paths { free(pointer) }
        }
        var report: [Int32] = [0, 0]
        guard pipe(&report) == 0 else { return .failure(ProcessSpawn.Failure(code: errno)) }
        _ = fcntl(report[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(report[1], F_SETFD, FD_CLOEXEC)
        let pid = fork()
        if pid < 0 {
            let code = errno
            close(report[0])
            close(report[1])
            return .failure(ProcessSpawn.Failure(code: code))
        }
        if pid == 0 {
            runChild(arguments, variables, paths, user, reportTo: report[1])
        }
        close(report[1])
        var code: Int32 = 0
        var received = 0
        while received < 4 {
            let count = withUnsafeMutableBytes(of: &code) { read(report[0], $0.baseAddress! + received, 4 - received) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            received += count
        }
        close(report[0])
        guard received == 4 else { return .success(pid) }  // closed by the exec: the job runs
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return .failure(ProcessSpawn.Failure(code: code))
    }

    /// The child's side; never returns.
    private static func runChild(
        _ arguments: [UnsafeMutablePointer<CChar>?], _ variables: [UnsafeMutablePointer<CChar>?], _ paths: [UnsafeMutablePointer<CChar>],
        _ user: JobUser, reportTo report: Int32
    ) -> Never {
        func fail(_ code: Int32) -> Never {
            var code = code
            _ = withUnsafeBytes(of: &code) { write(report, $0.baseAddress, 4) }
            _exit(127)
        }
        setpgid(0, 0)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        sigprocmask(SIG_SETMASK, &emptyMask, nil)
        signal(SIGTERM, SIG_DFL)
        signal(SIGINT, SIG_DFL)
        signal(SIGHUP, SIG_DFL)
        signal(SIGPIPE, SIG_DFL)
        signal(SIGCHLD, SIG_DFL)
        signal(SIGQUIT, SIG_DFL)
        let input = open(paths[1], O_RDONLY)
        let output = open(paths[2], O_WRONLY | O_CREAT | O_APPEND, 0o600)
        let errors = open(paths[3], O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard input >= 0, output >= 0, errors >= 0, dup2(input, 0) == 0, dup2(output, 1) == 1, dup2(errors, 2) == 2 else { fail(errno) }
        if input > 2 { close(input) }
        if output > 2 { close(output) }
        if errors > 2 { close(errors) }
        var group = user.gid
        guard setgroups(1, &group) == 0 else { fail(errno) }
        guard setgid(user.gid) == 0 else { fail(errno) }
        guard setuid(user.uid) == 0 else { fail(errno) }
        // Checked: the real and effective ids are the user's, and root cannot be regained.
        guard getuid() == user.uid, geteuid() == user.uid, getgid() == user.gid, getegid() == user.gid, setuid(0) != 0 else { fail(EPERM) }
        arguments.withUnsafeBufferPointer { argv in
            variables.withUnsafeBufferPointer { envp in
                _ = execve(paths[0], UnsafeMutablePointer(mutating: argv.baseAddress!), UnsafeMutablePointer(mutating: envp.baseAddress!))
            }
        }
        fail(errno)
    }

    /// `program` itself when it names a path, else the first executable file of that name in the
    /// job's PATH (as `posix_spawnp` would find it); nil when there is none.
    static func resolve(_ program: String, environment: [String]) -> String? {
        if program.contains("/") { return program }
        let path = environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + program
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
