"""Fetching a job's assets (video, audio) from paths, managed storage, https:// and s3://."""

from autovid.assets.fetcher import AssetFetcher, FetchPolicy, LocalFiles, ManagedStorage

__all__ = ["AssetFetcher", "FetchPolicy", "LocalFiles", "ManagedStorage"]
