import Foundation
import Glibc

/// Starts programs with `posix_spawn`: an argv, never a shell.
enum ProcessSpawner {
    /// glibc's POSIX_SPAWN_SETSID (not exported to Swift): the child starts a new session.
    private static let setSessionFlag: Int32 = 0x80

    struct Options {
        var environment: [String: String]
        var standardOutput: URL?
        var standardError: URL?
        /// Start a new session (detached from the parent's terminal and process group).
        var newSession = false
        /// Start a new process group led by the child (so signals reach all its descendants).
        var newProcessGroup = false
        /// Look the program up in the environment's PATH when it has no slash.
        var searchPath = true
    }

    /// Returns the child's pid, or the errno `posix_spawn` reported (e.g. ENOENT).
    static func spawn(_ argv: [String], options: Options) -> Result<pid_t, SpawnFailure> {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, options.standardOutput?.path ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&fileActions, 2, options.standardError?.path ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if options.newSession { flags |= setSessionFlag }
        if options.newProcessGroup && !options.newSession {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT] { sigaddset(&defaultSignals, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let arguments = argv.map { strdup($0) } + [nil]
        let environment = options.environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            arguments.forEach { free($0) }
            environment.forEach { free($0) }
        }
        var pid: pid_t = 0
        let program = searchProgram(argv[0], options: options)
        let result = posix_spawn(&pid, program, &fileActions, &attributes, arguments, environment)
        guard result == 0 else { return .failure(SpawnFailure(code: result)) }
        return .success(pid)
    }

    /// Resolves `name` against the PATH of the child's environment (as execvp would).
    private static func searchProgram(_ name: String, options: Options) -> String {
        guard options.searchPath, !name.contains("/") else { return name }
        let path = options.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return name
    }
}

/// `posix_spawn` failed with this errno.
struct SpawnFailure: Error {
    var code: Int32

    var isMissingProgram: Bool { code == ENOENT || code == EACCES || code == ENOEXEC }
    var message: String { String(cString: strerror(code)) }
}
