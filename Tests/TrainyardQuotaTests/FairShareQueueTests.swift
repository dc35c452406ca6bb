import Testing
import TrainyardQuota
import TrainyardTesting

/// The order in which a worker's free slots go to waiting jobs (weighted fair share).
@Suite("Fair share queue")
struct FairShareQueueTests {
    @Test(
        "with every team backlogged, running jobs stay a proportional apportionment of the slots by weight, through random ends",
        arguments: 0..<100)
    func weightedShares(index: Int) {
        let seed = SplitMix64.seed(0xFA12, case: index)
        var random = SplitMix64(seed: seed)
        let teams = (0..<Int.random(in: 2...4, using: &random)).map { "t\($0)" }
        let weights = Dictionary(uniqueKeysWithValues: teams.map { ($0, Double(Int.random(in: 1...3, using: &random))) })
        let slots = Int.random(in: teams.count...24, using: &random)
        var queue = FairShareQueue<Int>()
        // Each team floods in one burst, in a random team order.
        for team in teams.shuffled(using: &random) {
            for job in 0..<400 { queue.enqueue(job, team: team, weight: weights[team]!) }
        }
        for _ in 0..<slots { _ = queue.next() }
        for step in 0..<300 {
            // The divisor method's property: no team could take a slot from another and be closer
            // to proportional: (r_i - ½) / w_i ≤ (r_j + ½) / w_j for every pair.
            for i in teams {
                for j in teams where i != j {
                    let (ri, rj) = (Double(queue.running[i] ?? 0), Double(queue.running[j] ?? 0))
                    guard (ri - 0.5) / weights[i]! <= (rj + 0.5) / weights[j]! + 1e-9 else {
                        Issue.record("seed \(seed), step \(step): \(i) runs \(ri) at weight \(weights[i]!), \(j) \(rj) at \(weights[j]!)")
                        return
                    }
                }
            }
            // A random running job ends; its slot goes to the next waiter.
            let running = queue.running.flatMap { team, count in Array(repeating: team, count: count) }.sorted()
            queue.finished(team: running.randomElement(using: &random)!)
            _ = queue.next()
        }
    }

    @Test("a team's first waiter gets the next free slot, however many of a flooding team's waiters came before it")
    func firstSlotUnderFlood() {
        var queue = FairShareQueue<String>()
        for job in 0..<1_000 { queue.enqueue("a\(job)", team: "a", weight: 5) }
        for _ in 0..<8 { _ = queue.next() }
        queue.enqueue("b0", team: "b", weight: 1)
        queue.enqueue("b1", team: "b", weight: 1)
        queue.finished(team: "a")
        #expect(queue.next()?.waiter == "b0")
        queue.finished(team: "a")
        #expect(queue.next()?.waiter == "a8", "b runs 1 for weight 1, a 6 for weight 5: a is below its share")
    }

    @Test("each waiter is served exactly once and one team's waiters in the order they came", arguments: 0..<50)
    func servedOnceInOrder(index: Int) {
        let seed = SplitMix64.seed(0x0DE5, case: index)
        var random = SplitMix64(seed: seed)
        var queue = FairShareQueue<Int>()
        var teamOf: [Int: String] = [:]
        var served: [String: [Int]] = [:]
        for job in 0..<300 {
            let team = ["a", "b", "c"].randomElement(using: &random)!
            teamOf[job] = team
            queue.enqueue(job, team: team, weight: Double(Int.random(in: 1...4, using: &random)))
            if Bool.random(using: &random), let next = queue.next() { served[next.team, default: []].append(next.waiter) }
            if Bool.random(using: &random), let team = queue.running.keys.sorted().randomElement(using: &random) { queue.finished(team: team) }
        }
        while let next = queue.next() { served[next.team, default: []].append(next.waiter) }
        #expect(queue.count == 0)
        #expect(served.values.map(\.count).reduce(0, +) == 300, "seed \(seed)")
        for (team, jobs) in served {
            #expect(jobs == jobs.sorted(), "seed \(seed): \(team) served out of order")
            #expect(jobs.allSatisfy { teamOf[$0] == team }, "seed \(seed)")
        }
    }
}
