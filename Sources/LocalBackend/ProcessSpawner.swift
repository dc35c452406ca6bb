import Foundation
import Glibc

/// Starts programs with `posix_spawn`: an argv, never a shell; standard streams on /dev/null.
enum ProcessSpawner {
    /// glibc's POSIX_SPAWN_SETSID (not exported to Swift): the child starts a new session.
    private static let setSessionFlag: Int32 = 0x80

    struct Options {
        var environment: [String: String]
        /// Start a new session (detached from the parent's terminal and process group).
        var newSession = false
    }

    /// Returns the child's pid, or the errno `posix_spawn` reported (e.g. ENOENT). `argv[0]` is a path.
    static func spawn(_ argv: [String], options: Options) -> Result<pid_t, SpawnFailure> {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        for descriptor in Int32(0)...2 {
            posix_spawn_file_actions_addopen(&fileActions, descriptor, "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if options.newSession { flags |= setSessionFlag }
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
            for pointer in arguments { free(pointer) }
            for pointer in environment { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, argv[0], &fileActions, &attributes, arguments, environment)
        guard result == 0 else { return .failure(SpawnFailure(code: result)) }
        return .success(pid)
    }
}

/// `posix_spawn` failed with this errno.
struct SpawnFailure: Error {
    var code: Int32

    var message: String { String(cString: strerror(code)) }
}
