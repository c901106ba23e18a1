"""The CSM batch's scheduling policy (tts/engines/csm_schedule.py): plain data, no torch, no threads."""
from tts.engines.csm_schedule import Job, Schedule, buckets, piece_ends


def test_buckets_are_powers_of_two_up_to_the_slots():
    assert buckets(1) == [1] and buckets(4) == [1, 2, 4] and buckets(6) == [1, 2, 4, 6] and buckets(8) == [1, 2, 4, 8]


def test_waiting_jobs_take_the_lowest_free_slots_in_arrival_order_and_the_rest_wait():
    s = Schedule(2)
    jobs = [Job(10) for _ in range(3)]
    for j in jobs:
        s.submit(j)
    a = s.admit(now=0)
    assert a.admitted == jobs[:2] and [j.slot for j in jobs] == [0, 1, -1]
    assert list(s.waiting) == [jobs[2]] and s.rows() == 2


def test_a_cancelled_job_frees_its_slot_and_a_waiting_one_takes_it_in_the_same_turn():
    s = Schedule(2)
    first, second, third = Job(10), Job(10), Job(10)
    for j in (first, second, third):
        s.submit(j)
    s.admit(now=0)
    first.cancelled = True
    a = s.admit(now=1)
    assert a.freed == [0] and a.admitted == [third] and third.slot == 0 and first.slot == -1


def test_a_job_whose_deadline_passes_while_it_waits_expires_without_a_slot():
    s = Schedule(1)
    running, late, cancelled = Job(10), Job(10, deadline=5.0), Job(10, deadline=5.0)
    for j in (running, late, cancelled):
        s.submit(j)
    s.admit(now=0)
    cancelled.cancelled = True
    assert s.admit(now=4).expired == [] and list(s.waiting) == [late]  # the cancelled one simply left
    a = s.admit(now=6)
    assert a.expired == [late] and not s.waiting
    running.cancelled = True
    assert s.admit(now=7).freed == [0] and not s.has_work()


def test_a_job_past_its_deadline_does_not_start_even_when_a_slot_is_free():
    s = Schedule(2)
    job = Job(10, deadline=1.0)
    s.submit(job)
    a = s.admit(now=2.0)
    assert a.expired == [job] and a.admitted == [] and s.rows() == 0


def test_busy_slots_are_packed_only_when_that_lowers_the_row_bucket():
    s = Schedule(8)
    jobs = [Job(100) for _ in range(8)]
    for j in jobs:
        s.submit(j)
    s.admit(now=0)
    assert s.rows() == 8
    for j in jobs[:5] + jobs[6:]:  # only slot 5 stays busy
        j.cancelled = True
    s.admit(now=0)
    assert s.rows() == 8
    assert s.packing() == [(5, 0)] and jobs[5].slot == 0 and s.rows() == 1
    s2 = Schedule(4)
    js = [Job(100) for _ in range(4)]
    for j in js:
        s2.submit(j)
    s2.admit(now=0)
    js[1].cancelled = True
    s2.admit(now=0)
    assert s2.packing() == [] and s2.rows() == 4  # three busy need four rows anyway: no move
    js[0].cancelled = True
    s2.admit(now=0)
    assert s2.packing() == [(3, 0), (2, 1)] and s2.rows() == 2 and [j.slot for j in js] == [-1, -1, 1, 0]


def test_each_step_advances_every_busy_job_and_pieces_fall_due_after_3_then_every_4_frames():
    s = Schedule(2)
    a, b = Job(9), Job(20)
    s.submit(a)
    s.admit(now=0)
    due_a = []
    for step in range(1, 10):
        if step == 2:
            s.submit(b)
            s.admit(now=0)
        due = s.advance()
        if a in due:
            due_a.append(step)
            s.handed_over(a, end_of_audio=False, now=0)
    assert due_a == piece_ends(9) == [3, 7, 9]
    assert a.slot == -1 and b.slot == 1 and b.made == 8 and s.rows() == 2


def test_a_job_is_done_at_its_end_of_audio_frame_its_frame_budget_or_its_deadline():
    s = Schedule(3)
    ends, budget, late = Job(40), Job(3), Job(40, deadline=10.0)
    for j in (ends, budget, late):
        s.submit(j)
    s.admit(now=0)
    for _ in range(3):
        s.advance()
    assert s.handed_over(ends, end_of_audio=True, now=0)
    assert s.handed_over(budget, end_of_audio=False, now=0)
    assert not s.handed_over(late, end_of_audio=False, now=9.0)
    assert late.sent == 3
    assert s.handed_over(late, end_of_audio=False, now=11.0)
    assert s.busy == [] and not s.has_work()


def test_a_job_cancelled_during_a_step_gets_no_piece_and_leaves_at_the_next_turn():
    """A cancel (a job's token, from any thread) lands while a step runs: that step is the job's last. It is not due
    a piece (nothing is decoded for it), and the next turn frees its slot before the next step; its batch mate goes
    on alone."""
    s = Schedule(2)
    gone, mate = Job(40), Job(40)
    for j in (gone, mate):
        s.submit(j)
    s.admit(now=0)
    s.advance()
    s.advance()
    gone.cancelled = True   # during the 3rd step: the first piece would be due after it
    assert s.advance() == [mate] and gone.made == 3
    a = s.admit(now=0)      # the next turn
    assert a.freed == [0] and gone.slot == -1 and s.busy == [mate]
    assert s.packing() == [(1, 0)] and s.rows() == 1
    for _ in range(4):
        s.advance()
    assert gone.made == 3 and mate.made == 7   # no step ran for it after the one under way


def test_a_job_cancelled_while_it_waits_never_gets_a_slot():
    s = Schedule(1)
    running, waiting = Job(40), Job(40)
    for j in (running, waiting):
        s.submit(j)
    s.admit(now=0)
    waiting.cancelled = True
    running.cancelled = True
    a = s.admit(now=0)
    assert a.freed == [0] and a.admitted == [] and not s.has_work() and waiting.made == 0
