global using Xunit;
global using NetActors.Tests.Infrastructure;
global using NetActors.Content;
