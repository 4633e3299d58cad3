"""Clusters that share most of their videos are one outfit's frames split apart, and are merged
(inference/trends/co_worn.py), on hand-built clusterings."""

from __future__ import annotations

import numpy as np

from inference.trends.co_worn import merge_co_worn, shared_video_share
from inference.trends.kmeans import normalise
from inference.trends.settings import ClusterConfig
from tests.trends_helpers import outfit_clustering

DIM = 8


def _clusters(videos_per_cluster: list[list[int]], seed: int = 0, kinds_of: list[str] | None = None):
    """One cluster per list of videos; each video gives one frame (a top and a bottom) to the
    cluster. Returns vectors, kinds, frames, videos and the clustering."""
    rng = np.random.default_rng(seed)
    vectors, kinds, frames, videos, labels = [], [], [], [], []
    directions = normalise(rng.normal(size=(len(videos_per_cluster), DIM)))
    for c, video_ids in enumerate(videos_per_cluster):
        for n, video in enumerate(video_ids):
            for kind in ("top", "bottom"):
                vectors.append(directions[c] + rng.normal(0, 0.05, DIM))
                kinds.append(kind)
                frames.append(c * 1000 + n)
                videos.append(video)
                labels.append(c)
    vectors_array = normalise(np.asarray(vectors, np.float32))
    frames_array = np.asarray(frames, np.int64)
    clustering = outfit_clustering(vectors_array, kinds, frames_array, np.asarray(labels, np.int64), 0.3, kinds_of)
    return vectors_array, kinds, frames_array, np.asarray(videos, np.int64), clustering


def _merge(videos_per_cluster: list[list[int]], config: ClusterConfig | None = None, **kw):
    vectors, kinds, frames, videos, clustering = _clusters(videos_per_cluster, **kw)
    return merge_co_worn(clustering, videos, vectors, kinds, frames, config or ClusterConfig())


def test_shared_video_share_is_over_the_smaller_cluster() -> None:
    assert shared_video_share({1, 2, 3, 4}, {3, 4}) == (2, 1.0)
    assert shared_video_share({1, 2, 3, 4}, {4, 5, 6, 7, 8}) == (1, 0.25)
    assert shared_video_share(set(), {1}) == (0, 0.0)


def test_a_video_split_between_two_clusters_is_merged_back() -> None:
    # cluster 1 holds close-ups of three of cluster 0's four videos; cluster 2 is another outfit
    merged = _merge([[1, 2, 3, 4], [2, 3, 4], [10, 11, 12]])
    assert len(merged.clusters) == 2
    labels = merged.labels
    assert labels[0] == labels[8] != labels[-1]  # a frame of cluster 0 and one of cluster 1 now share a style
    assert merged.clusters[0].size == 14 and merged.clusters[1].size == 6
    assert np.isclose(np.linalg.norm(merged.clusters[0].centroid), 1.0)


def test_lookalikes_in_different_videos_and_a_single_haul_video_stay_apart() -> None:
    # a style and its lookalike: worn in different videos. The third shares one video with the
    # first (a haul or outfit-transition video shows both), not enough to be one outfit.
    merged = _merge([[1, 2, 3, 4, 5], [6, 7, 8, 9], [5, 20, 21]])
    assert len(merged.clusters) == 3


def test_share_and_count_thresholds_and_off() -> None:
    # two clusters share 2 of the smaller one's 5 videos (40%)
    layout = [[1, 2, 3, 4, 5, 6], [1, 2, 30, 31, 32]]
    assert len(_merge(layout).clusters) == 2  # default: half of the smaller one's videos
    assert len(_merge(layout, ClusterConfig(co_worn_share=0.4)).clusters) == 1
    assert len(_merge(layout, ClusterConfig(co_worn_share=0.4, co_worn_videos=3)).clusters) == 2
    assert len(_merge([[1, 2, 3], [1, 2, 3]], ClusterConfig(co_worn_share=0)).clusters) == 2


def test_clusters_of_different_kinds_never_merge() -> None:
    merged = _merge([[1, 2, 3], [1, 2, 3]], kinds_of=["top", "bottom"])
    assert len(merged.clusters) == 2


def test_merged_groups_pool_their_videos() -> None:
    # 1 and 2 merge first (two of 1's three videos); the pooled group then shares half of 0's
    merged = _merge([[1, 2, 3, 4], [5, 6, 7], [3, 4, 5, 6], [40, 41, 42]])
    assert len(merged.clusters) == 2


def test_one_shared_video_is_enough_when_the_probe_reads_the_two_alike() -> None:
    layout = [[1, 2, 3, 4, 5], [5, 6, 7, 8], [9, 10, 11]]
    vectors, kinds, frames, videos, clustering = _clusters(layout)
    config = ClusterConfig()
    alike = np.zeros((3, 3), bool)
    assert len(merge_co_worn(clustering, videos, vectors, kinds, frames, config, alike).clusters) == 3
    alike[0, 1] = alike[1, 0] = True
    merged = merge_co_worn(clustering, videos, vectors, kinds, frames, config, alike)
    assert len(merged.clusters) == 2
    # alike but worn in different videos (a lookalike): apart
    alike[0, 2] = alike[2, 0] = True
    assert len(merge_co_worn(clustering, videos, vectors, kinds, frames, config, alike).clusters) == 2


def test_alike_groups_use_complete_linkage() -> None:
    # 0 and 1 merge (most of 1's videos); 2 shares a video with the group and is alike 0, not 1
    layout = [[1, 2, 3, 4], [2, 3, 4, 5], [5, 20, 21, 22]]
    vectors, kinds, frames, videos, clustering = _clusters(layout)
    alike = np.zeros((3, 3), bool)
    alike[0, 2] = alike[2, 0] = True
    merged = merge_co_worn(clustering, videos, vectors, kinds, frames, ClusterConfig(), alike)
    assert len(merged.clusters) == 2


def test_a_fragment_torn_between_two_styles_joins_neither() -> None:
    # 2 holds one video of 0 and one of 1; the probe reads 2 alike both, but 0 and 1 apart
    layout = [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [5, 6]]
    vectors, kinds, frames, videos, clustering = _clusters(layout)
    alike = np.zeros((3, 3), bool)
    alike[0, 2] = alike[2, 0] = alike[1, 2] = alike[2, 1] = True
    assert len(merge_co_worn(clustering, videos, vectors, kinds, frames, ClusterConfig(), alike).clusters) == 3
    # when 0 and 1 read alike too, the three are pieces of one style
    alike[0, 1] = alike[1, 0] = True
    assert len(merge_co_worn(clustering, videos, vectors, kinds, frames, ClusterConfig(), alike).clusters) == 1


def test_a_torn_fragment_as_big_as_its_partner_joins_neither() -> None:
    # 1 is as big as 0 and shares a video with 2 as well; 0 and 2 read apart
    layout = [[1, 2], [2, 3], [3, 4]]
    vectors, kinds, frames, videos, clustering = _clusters(layout)
    alike = np.zeros((3, 3), bool)
    alike[0, 1] = alike[1, 0] = alike[1, 2] = alike[2, 1] = True
    assert len(merge_co_worn(clustering, videos, vectors, kinds, frames, ClusterConfig(), alike).clusters) == 3
