from moorings.core.transitions import Plan, Tracked, plan
from moorings.types import VersionState

AVAILABLE = VersionState.AVAILABLE
LOADING = VersionState.LOADING
UNLOADING = VersionState.UNLOADING
END = VersionState.END


def t(state: VersionState, fingerprint: str = "f") -> Tracked:
    return Tracked(state, fingerprint)


def test_a_new_model_loads_every_aspired_version() -> None:
    assert plan({1: "a", 2: "b"}, {}) == Plan(load=(1, 2))


def test_the_old_version_stays_while_the_new_one_loads() -> None:
    assert plan({2: "b"}, {1: t(AVAILABLE), 2: t(LOADING)}) == Plan()


def test_the_old_version_goes_once_the_new_one_is_available() -> None:
    assert plan({2: "b"}, {1: t(AVAILABLE), 2: t(AVAILABLE, "b")}) == Plan(unload=(1,))


def test_a_failed_new_version_keeps_the_last_good_one() -> None:
    assert plan({2: "b"}, {1: t(AVAILABLE), 2: t(END, "b")}) == Plan()


def test_a_failed_version_is_retried_when_its_fingerprint_changes() -> None:
    assert plan({2: "b2"}, {1: t(AVAILABLE), 2: t(END, "b")}) == Plan(load=(2,))


def test_an_available_version_is_not_reloaded_when_its_fingerprint_changes() -> None:
    assert plan({1: "new"}, {1: t(AVAILABLE, "old")}) == Plan()


def test_a_failed_version_no_longer_aspired_is_forgotten() -> None:
    assert plan({3: "c"}, {1: t(AVAILABLE), 2: t(END), 3: t(LOADING)}) == Plan(forget=(2,))


def test_nothing_aspired_unloads_everything_available() -> None:
    tracked = {1: t(AVAILABLE), 2: t(AVAILABLE), 3: t(UNLOADING), 4: t(LOADING)}
    assert plan({}, tracked) == Plan(unload=(1, 2))


def test_a_version_being_unloaded_is_left_alone_even_when_aspired_again() -> None:
    assert plan({1: "f"}, {1: t(UNLOADING)}) == Plan()


def test_latest_two_unloads_only_what_left_the_policy() -> None:
    tracked = {1: t(AVAILABLE), 2: t(AVAILABLE)}
    assert plan({2: "f", 3: "c"}, tracked) == Plan(load=(3,), unload=(1,))
