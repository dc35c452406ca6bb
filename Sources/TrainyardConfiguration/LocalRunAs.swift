import Glibc
import LocalSupervision

/// `runAs` of a local target: the unprivileged user its jobs run as, by name or by ids.
///
/// ```yaml
/// backends:
///   - {name: laptop, type: local, runAs: {user: trainyard-job}}
///   - {name: shared, type: local, runAs: {uid: 65534, gid: 65534}}
/// ```
///
/// `user` takes the user's uid and primary group (`gid` may override it); `uid` alone takes the
/// group of that uid's passwd entry. Root is refused, and so is the setting when the worker does
/// not run as root (it could not change user).
public struct LocalRunAs: Decodable, Sendable, Equatable {
    public var user: String?
    public var uid: UInt32?
    public var gid: UInt32?

    public init(user: String? = nil, uid: UInt32? = nil, gid: UInt32? = nil) {
        self.user = user
        self.uid = uid
        self.gid = gid
    }

    /// The ids to run as, checked against this host and this process.
    public func resolved(effectiveUID: uid_t = geteuid()) throws -> JobUser {
        let entry: passwd?
        switch (user, uid) {
        case (let name?, nil):
            guard let found = getpwnam(name) else { throw BackendTargetError("runAs: no user \"\(name)\" on this host") }
            entry = found.pointee
        case (nil, let id?):
            entry = getpwuid(id)?.pointee
        case (nil, nil): throw BackendTargetError("runAs: give `user` or `uid`")
        case (_?, _?): throw BackendTargetError("runAs: give `user` or `uid`, not both")
        }
        guard let uid = entry?.pw_uid ?? uid, let gid = gid ?? entry?.pw_gid else {
            throw BackendTargetError("runAs: uid \(uid ?? 0) has no passwd entry: give its `gid`")
        }
        guard uid != 0, gid != 0 else { throw BackendTargetError("runAs: jobs may not run as root (uid or gid 0)") }
        guard effectiveUID == 0 else {
            throw BackendTargetError("runAs: the worker must run as root to start jobs as uid \(uid) (it runs as uid \(effectiveUID))")
        }
        return JobUser(uid: uid, gid: gid)
    }
}
