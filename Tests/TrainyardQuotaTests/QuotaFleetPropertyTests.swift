import Testing
import TrainyardCore
import TrainyardQuota
import TrainyardTesting

/// Random interleavings of a fleet using the claims log: deliveries, folds, claims, attempt
/// ends, releases and worker deaths at any point. Claims go through each worker's producer and
/// land in the log later, in order per producer; a dead worker's claims still land (a zombie's
/// late claim, possibly after the new owner released the job). Checked after every step: the attempts
/// running in the backend never pass a team's quota, and nothing starts twice. At the end:
/// every job finished, and no grant was left unreleased.
@Suite("Quota fleet properties")
struct QuotaFleetPropertyTests {
    @Test("never above quota, no double start, every grant released once its job ends", arguments: 0..<100)
    func randomInterleavings(index: Int) {
        let seed = SplitMix64.seed(0xFA1E, case: index)
        var fleet = ModelFleet(seed: seed, changingQuotas: false)
        fleet.run()
    }

    @Test("with quotas changed at random, each grant stays within the limits its record carried", arguments: 0..<50)
    func changingQuotas(index: Int) {
        let seed = SplitMix64.seed(0xC4A6, case: index)
        var fleet = ModelFleet(seed: seed, changingQuotas: true)
        fleet.run()
    }
}

/// A fleet reduced to what the quota protocol touches: one shared log, workers that each fold it
/// at their own pace, a backend that knows which attempts started and ended.
private struct ModelFleet {
    struct Job {
        let id: JobID
        let team: String
        let target: String
        let gpus: Int
    }

    enum Phase: Equatable {
        /// Its claim is in the log at `logIndex`, or still in the producer (nil).
        case awaitingDecision(logIndex: Int?)
        case held
        case running
        case terminalPublished
    }

    struct Worker {
        var name: String
        var alive = true
        var cursor = 0
        var ledger = QuotaLedger()
        var owned: [JobID: Phase] = [:]
    }

    enum Attempt { case running, finished }

    let seed: UInt64
    let changingQuotas: Bool
    var random: SplitMix64
    var jobs: [JobID: Job] = [:]
    var undelivered: [JobID] = []
    var workers: [Worker] = []
    var log: [QuotaRecord] = []
    /// Claims appended but not yet in the log, with the name of the producing worker.
    var inFlight: [(worker: String, claim: QuotaClaim)] = []
    var reference = QuotaLedger()
    var referenceCursor = 0
    var backend: [JobID: Attempt] = [:]
    var starts: [JobID: Int] = [:]
    var completed: Set<JobID> = []
    var limits: [String: ClaimLimits]
    /// The highest limit in force at any time (the bound when quotas change).
    var ceilings: [String: ClaimLimits]

    static let teams = ["a", "b", "c"]
    static let targets = ["cpu", "gpu"]

    init(seed: UInt64, changingQuotas: Bool) {
        self.seed = seed
        self.changingQuotas = changingQuotas
        random = SplitMix64(seed: seed)
        limits = [
            "a": ClaimLimits(team: QuotaLimit(maxAttempts: 2)),
            "b": ClaimLimits(team: QuotaLimit(maxAttempts: 3, maxGPUs: 4)),
            "c": ClaimLimits(team: QuotaLimit(maxAttempts: 4), target: QuotaLimit(maxAttempts: 1)),
        ]
        ceilings = limits
        let workerCount = Int.random(in: 1...4, using: &random)
        workers = (0..<workerCount).map { Worker(name: "w\($0)") }
        for _ in 0..<Int.random(in: 5...40, using: &random) {
            let job = Job(
                id: JobID.generate(), team: Self.teams.randomElement(using: &random)!, target: Self.targets.randomElement(using: &random)!,
                gpus: Int.random(in: 0...2, using: &random))
            jobs[job.id] = job
            undelivered.append(job.id)
        }
    }

    mutating func run() {
        var steps = 0
        while completed.count < jobs.count {
            steps += 1
            guard steps < 200_000 else {
                Issue.record("seed \(seed): no progress after \(steps) steps, \(completed.count) of \(jobs.count) jobs done")
                return
            }
            step(allowDeaths: steps < 2_000)
            guard checkInvariants() else { return }
        }
        while !inFlight.isEmpty { produce() }
        while referenceCursor < log.count { foldReference() }
        #expect(reference.grants.isEmpty, "seed \(seed): grants left after every job ended: \(reference.grants.count)")
        for (job, count) in starts where count != 1 { Issue.record("seed \(seed): job \(job) started \(count) times") }
    }

    private mutating func step(allowDeaths: Bool) {
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<15: deliver()
        case 15..<45: fold()
        case 45..<55: produce()
        case 55..<70: finishAttempt()
        case 70..<90: notice()
        case 90..<92 where allowDeaths: kill()
        case 92..<94 where changingQuotas: changeQuota()
        default: foldReference()
        }
    }

    /// A request reaches a live worker (first delivery, or a redelivery after its owner died).
    private mutating func deliver() {
        guard !undelivered.isEmpty, let worker = liveWorker() else { return }
        let job = undelivered.removeFirst()
        switch backend[job] {
        case nil: claim(job, by: worker)
        case .running: workers[worker].owned[job] = .running
        case .finished: workers[worker].owned[job] = .terminalPublished  // re-publishes, then releases
        }
    }

    private mutating func claim(_ job: JobID, by worker: Int) {
        let spec = jobs[job]!
        let record = QuotaClaim(
            team: spec.team, target: spec.target, job: job, attempt: 1, resources: QuotaResources(gpus: spec.gpus),
            limits: limits[spec.team]!, worker: workers[worker].name)
        workers[worker].owned[job] = .awaitingDecision(logIndex: nil)
        inFlight.append((workers[worker].name, record))
    }

    /// One producer's oldest claim lands in the log; its worker, if still alive, now awaits it there.
    private mutating func produce() {
        guard let producer = inFlight.map(\.worker).randomElement(using: &random),
            let index = inFlight.firstIndex(where: { $0.worker == producer })
        else { return }
        let claim = inFlight.remove(at: index).claim
        if let worker = workers.firstIndex(where: { $0.name == producer && $0.alive }),
            workers[worker].owned[claim.job] == .awaitingDecision(logIndex: nil)
        {
            workers[worker].owned[claim.job] = .awaitingDecision(logIndex: log.count)
        }
        log.append(.claim(claim))
    }

    /// A worker folds one more record, and acts on its own claims' decisions and on releases.
    private mutating func fold() {
        guard let worker = liveWorker(), workers[worker].cursor < log.count else { return }
        let index = workers[worker].cursor
        workers[worker].cursor += 1
        let record = log[index]
        let decision = workers[worker].ledger.apply(record)
        switch record {
        case .claim(let claim):
            guard workers[worker].owned[claim.job] == .awaitingDecision(logIndex: index), let decision else { return }
            if case .denied = decision {
                workers[worker].owned[claim.job] = .held
            } else if decision == .released {
                workers[worker].owned[claim.job] = nil  // it ended: the request is done
            } else {
                if backend[claim.job] == nil {
                    backend[claim.job] = .running
                    starts[claim.job, default: 0] += 1
                }
                workers[worker].owned[claim.job] = .running
            }
        case .release(let release):
            let team = jobs[release.job]!.team
            let held = workers[worker].owned.filter { $0.value == .held && jobs[$0.key]!.team == team }.keys.sorted()
            for job in held { claim(job, by: worker) }
        }
    }

    private mutating func finishAttempt() {
        let running = backend.filter { $0.value == .running }.keys.sorted()
        guard let job = running.randomElement(using: &random) else { return }
        backend[job] = .finished
    }

    /// An owner sees its attempt ended: it publishes the terminal event, then releases and
    /// marks the request done (two steps: a death may fall between them).
    private mutating func notice() {
        guard let worker = liveWorker() else { return }
        let candidates = workers[worker].owned.filter { $0.value == .running || $0.value == .terminalPublished }.keys.sorted()
        guard let job = candidates.randomElement(using: &random), backend[job] == .finished else { return }
        if workers[worker].owned[job] == .running {
            workers[worker].owned[job] = .terminalPublished
        } else {
            log.append(.release(QuotaRelease(job: job, worker: workers[worker].name)))
            workers[worker].owned[job] = nil
            completed.insert(job)
        }
    }

    /// A worker dies: its requests are redelivered; it comes back with an empty fold.
    private mutating func kill() {
        guard let worker = liveWorker() else { return }
        undelivered.append(contentsOf: workers[worker].owned.keys.sorted())
        workers[worker] = Worker(name: workers[worker].name + "'")
    }

    private mutating func changeQuota() {
        let team = Self.teams.randomElement(using: &random)!
        limits[team]!.team.maxAttempts = Int.random(in: 1...5, using: &random)
        ceilings[team]!.team.maxAttempts = max(ceilings[team]!.team.maxAttempts!, limits[team]!.team.maxAttempts!)
    }

    /// The fold as any worker computes it, checked record by record.
    private mutating func foldReference() {
        guard referenceCursor < log.count else { return }
        let record = log[referenceCursor]
        referenceCursor += 1
        if case .release(let release) = record, backend[release.job] == .running {
            Issue.record("seed \(seed): job \(release.job) released while its attempt runs")
        }
        if case .claim(let claim) = record, reference.apply(claim) == .granted {
            let usage = reference.usage(team: claim.team)
            #expect(claim.limits.team.admits(usage), "seed \(seed): grant took team \(claim.team) to \(usage), past \(claim.limits.team)")
            if let target = claim.limits.target {
                #expect(target.admits(reference.usage(team: claim.team, target: claim.target)), "seed \(seed): grant past the target limit")
            }
        } else {
            reference.apply(record)
        }
    }

    private func checkInvariants() -> Bool {
        for team in Self.teams {
            let running = backend.filter { $0.value == .running && jobs[$0.key]!.team == team }.keys.map { jobs[$0]! }
            let usage = QuotaResources(attempts: running.count, gpus: running.map(\.gpus).reduce(0, +))
            guard ceilings[team]!.team.admits(usage) else {
                Issue.record("seed \(seed): team \(team) runs \(usage), past its quota \(ceilings[team]!.team)")
                return false
            }
            for target in Self.targets {
                let onTarget = running.filter { $0.target == target }.count
                if let limit = ceilings[team]!.target, !limit.admits(QuotaResources(attempts: onTarget)) {
                    Issue.record("seed \(seed): team \(team) runs \(onTarget) on \(target), past \(limit)")
                    return false
                }
            }
        }
        if let twice = starts.first(where: { $0.value > 1 }) {
            Issue.record("seed \(seed): job \(twice.key) started \(twice.value) times")
            return false
        }
        return true
    }

    private mutating func liveWorker() -> Int? {
        workers.indices.filter { workers[$0].alive }.randomElement(using: &random)
    }
}
