"""M/M/1 at rho 0.9 (90/s, exp service mean 10 ms, 20 min simulated, FIFO, one server) in SimPy
and in Ciw, each written as its documentation writes one. Prints customers per CPU second of
this process (time.process_time), one line per run: `tool customers cpu_s rate mean_wait_ms`."""
import random, sys, time

HORIZON, RATE, MEAN = 1200.0, 90.0, 0.010


def simpy_mm1(seed=1):
    import simpy
    rng = random.Random(seed)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    stats = {"arrived": 0, "served": 0, "wait": 0.0}

    def customer(env):
        arrived = env.now
        with server.request() as req:
            yield req
            stats["wait"] += env.now - arrived
            yield env.timeout(rng.expovariate(1.0 / MEAN))
        stats["served"] += 1

    def source(env):
        while True:
            yield env.timeout(rng.expovariate(RATE))
            stats["arrived"] += 1
            env.process(customer(env))

    env.process(source(env))
    env.run(until=HORIZON)
    return stats["arrived"], stats["wait"] / max(stats["served"], 1)


def ciw_mm1(seed=1):
    import ciw
    ciw.seed(seed)
    net = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=RATE)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / MEAN)],
        number_of_servers=[1],
    )
    q = ciw.Simulation(net)
    q.simulate_until_max_time(HORIZON)
    recs = q.get_all_records()
    waits = [r.waiting_time for r in recs]
    # Every customer created by the arrival node (served, in service or waiting at the end).
    arrived = q.nodes[0].number_of_individuals
    return arrived, sum(waits) / len(waits)


def main():
    tool = sys.argv[1]
    f = {"simpy": simpy_mm1, "ciw": ciw_mm1}[tool]
    t0 = time.process_time()
    n, wq = f()
    dt = time.process_time() - t0
    print(f"{tool}\t{n}\t{dt:.3f}\t{n / dt:.0f}\t{wq * 1e3:.1f}")


if __name__ == "__main__":
    main()
